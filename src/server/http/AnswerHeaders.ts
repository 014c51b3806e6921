// The headers an answer carries for what it is, decided by its path alone and
// built once: security headers on every answer, and who may cache it.

// The API answers JSON only: nothing it sends may load or run anything.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// The docs page runs its inlined script and styles, and fetches only from
// this server (the "try it" client); it needs no other origin.
const docsPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * The GraphQL explorer runs the scripts and styles it inlines, named by
 * their hashes (no 'unsafe-inline', no 'unsafe-eval'), and posts only to
 * this server; its fonts and icons are data: URLs in its styles.
 */
const explorerPolicy = (scriptHashes: ReadonlyArray<string>, styleHashes: ReadonlyArray<string>) =>
  `default-src 'none'; script-src ${scriptHashes.join(" ")}; style-src ${styleHashes.join(" ")}; ` +
  "img-src 'self' data:; font-src data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const security = (policy: string) => ({
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": policy
})

/**
 * A task answer (REST's or GraphQL's) is one user's data, answered to their token: `private` keeps
 * shared caches (a CDN, a proxy that drops Authorization) from storing it
 * for anyone else; `no-cache` rather than `no-store` lets the user's own
 * client keep it and revalidate with If-None-Match, which the ETags promise
 * (a 304 costs the server the read, not the body). `Vary: Authorization`
 * tells any cache that stores it anyway that it is per token.
 */
const taskAnswer = { ...security(apiPolicy), "cache-control": "private, no-cache", vary: "Authorization" }
// GraphQL answers differ by Accept too: the media type, and the explorer page at the same URL.
const graphqlAnswer = { ...taskAnswer, vary: "Authorization, Accept" }
// Probes and metrics describe this instance at this moment: never stored.
const neverStored = { ...security(apiPolicy), "cache-control": "no-store" }
// The API's description changes only with a deployment: anyone may keep it for five minutes.
const description = (policy: string) => ({ ...security(policy), "cache-control": "public, max-age=300" })

/**
 * The explorer page's headers, given the hashes of what it inlines: the
 * docs' caching, and `Vary: Accept`, as GraphQL requests to the same URL
 * get JSON. Its route adds them to the request's Exchange, over the path's.
 */
export const explorerHeaders = (scriptHashes: ReadonlyArray<string>, styleHashes: ReadonlyArray<string>) => ({
  ...description(explorerPolicy(scriptHashes, styleHashes)),
  vary: "Accept"
})

export interface AnswerHeaderPaths {
  readonly docs: string
  readonly openapi: string
  readonly graphql: string
}

/**
 * The headers for an answer to `path` (without its query) with `status`.
 * Anything the service does not recognise is never stored, so no task
 * answer can be cached as public by a path written differently.
 */
export const answerHeaders = ({ docs, graphql, openapi }: AnswerHeaderPaths) => {
  const docsPage = description(docsPolicy)
  const openapiDocument = description(apiPolicy)
  const docsError = { ...neverStored, "content-security-policy": docsPolicy }
  return (path: string, status: number): Record<string, string> => {
    // GraphQL answers carry the same tasks, to the same token.
    if (path === "/tasks" || path.startsWith("/tasks/")) return taskAnswer
    if (path === graphql) return graphqlAnswer
    if (path === docs) return status < 300 ? docsPage : docsError
    if (path === openapi && status < 300) return openapiDocument
    return neverStored
  }
}
