import * as HttpMiddleware from "effect/http/HttpMiddleware"
import * as HttpRouter from "effect/http/HttpRouter"

/**
 * Lets pages from these origins (`*` for any) call the API from a browser,
 * and read the headers a client needs. Credentials are bearer tokens sent by
 * the page, never cookies, so no origin gets `Allow-Credentials`.
 */
export const layer = (origins: ReadonlyArray<string>) => {
  const allowed = new Set(origins)
  return HttpRouter.middleware(
    HttpMiddleware.cors({
      allowedOrigins: (origin) => allowed.has("*") || allowed.has(origin),
      allowedMethods: ["GET", "HEAD", "POST", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "idempotency-key", "if-match", "if-none-match"],
      exposedHeaders: [
        "etag",
        "location",
        "retry-after",
        "www-authenticate",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy"
      ],
      maxAge: 600
    }),
    { global: true }
  )
}
