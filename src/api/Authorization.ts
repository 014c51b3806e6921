import * as Context from "effect/Context"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as HttpApiSecurity from "effect/http-api/HttpApiSecurity"
import * as OpenApi from "effect/http-api/OpenApi"
import { TooManyRequests, Unauthorized } from "../domain/AccessErrors.ts"
import { ServiceUnavailable } from "../domain/TaskErrors.ts"

/** Whose tasks a request sees: the subject (`sub`) of its bearer token. */
export class CurrentOwner extends Context.Service<CurrentOwner, string>()("task-api/api/CurrentOwner") {}

// Scheme names are case-insensitive (RFC 9110 11.1), and the server accepts
// any case; the document writes it in lowercase, as the OpenAPI 3.1 schema
// that validators bundle requires of a scheme with a `bearerFormat`
// (`HttpApiSecurity.bearer` writes "Bearer", which they refuse).
const bearerJwt = HttpApiSecurity.http({ scheme: "bearer" }).pipe(
  HttpApiSecurity.annotate(OpenApi.Format, "JWT"),
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "A JWT whose `sub` owns the tasks. A missing, malformed, expired or wrongly signed token is a 401."
  )
)

/**
 * Authenticates a task request and applies the caller's rate limit. Both
 * live in one middleware because the limit is keyed by what authentication
 * finds: the token's subject, or the client's address when there is none.
 */
export class Authorization extends HttpApiMiddleware.Service<Authorization, { provides: CurrentOwner }>()(
  "task-api/api/Authorization",
  {
    requiredForClient: true,
    security: { bearer: bearerJwt },
    // 503 when the keys that verify tokens cannot be fetched (JWKS_URL).
    error: [Unauthorized, TooManyRequests, ServiceUnavailable]
  }
) {}
