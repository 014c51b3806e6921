import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { expectProblem } from "../support/Http.ts"
import { type ServerTarget, serverTarget } from "../support/Targets.ts"

// The GraphiQL page a browser gets at /graphql, seen as a client sees it:
// the built server, its headers and its HTML. test/graphql/explorerBrowser
// runs it in Chromium.

/** What Chromium sends when it opens a URL. */
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

/** GET /graphql (or `init`'s method) as a browser asks, unless `init` names its own Accept. */
const visit = (target: ServerTarget, init: RequestInit = {}) => {
  const headers = new Headers(init.headers)
  if (!headers.has("accept")) headers.set("accept", browserAccept)
  return fetch(`${target.server.url}/graphql`, { ...init, headers })
}

/** The policy's directives: name → sources. */
const directives = (policy: string) =>
  new Map(policy.split(";").map((directive) => {
    const [name = "", ...sources] = directive.trim().split(/\s+/)
    return [name, sources] as const
  }))

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

describe("the GraphQL explorer at /graphql", () => {
  let target: ServerTarget
  beforeAll(async () => {
    target = await serverTarget()
  })
  afterAll(() => target?.close())

  it("is an HTML page for a browser, with no token needed to load it", async () => {
    const response = await visit(target)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(response.headers.get("cache-control")).toBe("public, max-age=300")
    expect(response.headers.get("vary")).toBe("Accept")
    expect(await response.text()).toContain("<div id=\"graphiql\">")
  })

  it("runs only its own inlined scripts and styles, by hash, and connects only to this server", async () => {
    const response = await visit(target)
    const policy = response.headers.get("content-security-policy") ?? ""
    const page = await response.text()
    expect(policy).not.toMatch(/unsafe-eval|unsafe-inline|https?:|\*/)
    const policyOf = directives(policy)
    expect(policyOf.get("default-src")).toEqual(["'none'"])
    expect(policyOf.get("connect-src")).toEqual(["'self'"])
    expect(policyOf.get("frame-ancestors")).toEqual(["'none'"])
    const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(([, script]) => script!)
    expect(scripts.length).toBeGreaterThan(0)
    expect(policyOf.get("script-src")).toEqual(scripts.map(sha256))
    const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(([, style]) => style!)
    for (const style of styles) expect(policyOf.get("style-src")).toContain(sha256(style))
  })

  it("loads nothing from another origin", async () => {
    const page = await (await visit(target)).text()
    // Every script is inline, and no tag names a URL on the network.
    expect(page).not.toMatch(/<script\b[^>]*\bsrc\s*=/i)
    expect(page).not.toMatch(/<(?:link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i)
  })

  it("answers HEAD with the page's headers and no body", async () => {
    const response = await visit(target, { method: "HEAD" })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(await response.text()).toBe("")
  })

  it("leaves GraphQL requests as they were: a query, JSON first, or POST", async () => {
    const query = await fetch(`${target.server.url}/graphql?query=${encodeURIComponent("{ __typename }")}`, withToken({
      headers: { accept: browserAccept }
    }))
    expect(query.status).toBe(200)
    expect(await query.json()).toEqual({ data: { __typename: "Query" } })
    expect(query.headers.get("vary")).toBe("Authorization, Accept")

    const json = await visit(target, withToken({ headers: { accept: "application/json, text/html" } }))
    await expectProblem(json, 400)

    const post = await fetch(`${target.server.url}/graphql`, withToken({
      method: "POST",
      headers: { accept: browserAccept, "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" })
    }))
    expect(await post.json()).toEqual({ data: { __typename: "Query" } })
  })
})

describe("the GraphQL explorer with API_DOCS=false", () => {
  let target: ServerTarget
  beforeAll(async () => {
    target = await serverTarget({ API_DOCS: "false" })
  })
  afterAll(() => target?.close())

  it("is not served: a browser's visit is a GraphQL request without a query, as before", async () => {
    await expectProblem(await visit(target), 401)
    const response = await visit(target, withToken())
    expect(response.headers.get("content-type")).not.toMatch(/text\/html/)
    await expectProblem(response, 400)
  })
})
