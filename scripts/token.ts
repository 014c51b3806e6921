// Mints a development token signed with JWT_SECRET (from the environment or
// .env), carrying JWT_ISSUER and JWT_AUDIENCE when they are set.
// Usage: npm run token -- --sub alice [--expires-in 1h]
import "../src/requireNode.js"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { SignJWT } from "jose"
import { parseArgs } from "node:util"
import { AppConfig } from "../src/server/AppConfig.ts"

const { values } = parseArgs({
  options: { sub: { type: "string" }, "expires-in": { type: "string", default: "1h" } }
})

const program = Effect.gen(function*() {
  const { jwtAudience, jwtIssuer, jwtSecret } = yield* AppConfig
  if (values.sub === undefined || values.sub === "") {
    return yield* Effect.fail(new Error("Name the token's owner: npm run token -- --sub alice"))
  }
  if (jwtSecret === undefined) {
    return yield* Effect.fail(new Error("Set JWT_SECRET (in the environment or .env): the service verifies with it"))
  }
  let token = new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(values["expires-in"])
  if (jwtIssuer !== undefined) token = token.setIssuer(jwtIssuer)
  if (jwtAudience !== undefined) token = token.setAudience(jwtAudience)
  return yield* Effect.promise(() => token.sign(new TextEncoder().encode(Redacted.value(jwtSecret))))
})

program.pipe(
  Effect.provide(AppConfig.layer),
  Effect.provide(AppConfig.environment),
  Effect.runPromise
).then(
  (token) => console.log(token),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exitCode = 1
  }
)
