// The API answers JSON only: nothing it sends may load or run anything.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// The docs page runs its inlined script and styles, and fetches only from
// this server (the "try it" client); it needs no other origin.
const docsPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const headers = (policy: string) => ({
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": policy
})
const apiHeaders = headers(apiPolicy)
const docsHeaders = headers(docsPolicy)

/** The headers an answer to `url` carries, whatever it is (see HttpEdge). */
export const securityHeaders = (docsPath: string) => (url: string): Record<string, string> =>
  url === docsPath ? docsHeaders : apiHeaders
