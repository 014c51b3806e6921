import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultUser, tokenFor } from "../support/Auth.ts"
import { type ServerTarget, serverTarget } from "../support/Targets.ts"

// The explorer in a real browser: Debian's Chromium (installed by
// globalSetup and .ci/run), driven by playwright-core, against the built
// server with authentication on, the way the README tells a user to use it.

const chromiumPath = "/usr/bin/chromium"

/** The CodeMirror editor under `selector`, as GraphiQL 4 renders its editors. */
const setEditor = (page: Page, selector: string, text: string) =>
  page.locator(`${selector} .CodeMirror`).evaluate(
    (element, value) => (element as unknown as { CodeMirror: { setValue: (text: string) => void } }).CodeMirror.setValue(value),
    text
  )

const resultText = (page: Page) =>
  page.locator(".graphiql-response .CodeMirror").evaluate((element) =>
    (element as unknown as { CodeMirror: { getValue: () => string } }).CodeMirror.getValue()
  )

describe("the GraphQL explorer in Chromium", () => {
  let target: ServerTarget
  let browser: Browser
  beforeAll(async () => {
    ;[target, browser] = await Promise.all([serverTarget(), chromium.launch({ executablePath: chromiumPath })])
  })
  afterAll(async () => {
    await browser?.close()
    await target?.close()
  })

  it("runs a query with the token from its headers editor, under its CSP, fetching from nowhere else", async () => {
    const title = `Explored in a browser ${Date.now()}`
    const created = await target.fetch("/tasks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title })
    })
    expect(created.status).toBe(201)

    const page = await browser.newPage()
    const violations: Array<string> = []
    const elsewhere: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) violations.push(message.text())
    })
    page.on("pageerror", (error) => violations.push(`uncaught: ${error.message}`))
    page.on("request", (request) => {
      if (!request.url().startsWith(`${target.server.url}/`) && !request.url().startsWith("data:")) {
        elsewhere.push(request.url())
      }
    })
    await page.exposeFunction("reportViolation", (violation: string) => violations.push(violation))
    // In the page (a string: this project's types have no DOM).
    await page.addInitScript(`document.addEventListener("securitypolicyviolation", (event) =>
      window.reportViolation(event.violatedDirective + " blocked " + (event.blockedURI || "inline") + ": " + event.sample))`)

    const response = await page.goto(`${target.server.url}/graphql`)
    expect(response?.status()).toBe(200)
    await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 20_000 })

    // The headers editor is open from the start: the token goes there.
    await setEditor(
      page,
      ".graphiql-editor-tool .graphiql-editor:not(.hidden)",
      JSON.stringify({ Authorization: `Bearer ${tokenFor(defaultUser)}` })
    )
    await setEditor(page, ".graphiql-query-editor", "{ tasks(first: 2) { edges { node { id title } } } }")
    await page.click(".graphiql-execute-button")
    await expect.poll(() => resultText(page), { timeout: 20_000 }).toContain(title)
    const result = JSON.parse(await resultText(page)) as {
      data: { tasks: { edges: Array<{ node: { title: string } }> } }
    }
    expect(result.data.tasks.edges.map(({ node }) => node.title)).toContain(title)

    // A dialog adds GraphiQL's scroll-lock style, which the policy allows by hash.
    await page.click("[aria-label='Open settings dialog']")
    await page.waitForSelector("[role='dialog']", { timeout: 10_000 })
    await page.keyboard.press("Escape")
    await page.waitForSelector("[role='dialog']", { state: "detached", timeout: 10_000 })

    expect(violations).toEqual([])
    expect(elsewhere).toEqual([])
    await page.close()
  }, 60_000)
})
