import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { exchangeOf } from "../observability/Exchange.ts"
import { explorerHeaders } from "./AnswerHeaders.ts"
import { explorerAssetFiles } from "./ExplorerAssets.ts"

// The GraphQL explorer a browser gets at /graphql: GraphiQL, its browser
// files inlined (see ExplorerAssets), so the page needs no network but its POSTs.

// eslint-disable-next-line security/detect-non-literal-fs-filename -- the fixed files of ExplorerAssets
const readVendorFile = (file: string) => readFile(file, "utf8")

/** A CSP source naming inline content by its hash. */
const hashSource = (content: string) => `'sha256-${createHash("sha256").update(content, "utf8").digest("base64")}'`

/**
 * Starts GraphiQL against `endpoint`. Its own fetcher asks for
 * graphql-response+json and sends the headers of GraphiQL's headers editor
 * (opened at start: that is where a bearer token goes), which it never stores.
 */
const startScript = (endpoint: string) => `"use strict";
(() => {
  const fetcher = async (params, options) => {
    const response = await fetch(${JSON.stringify(endpoint)}, {
      method: "POST",
      headers: {
        accept: "application/graphql-response+json, application/json",
        "content-type": "application/json",
        ...options?.headers
      },
      body: JSON.stringify(params)
    });
    return response.json();
  };
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: "headers", shouldPersistHeaders: false })
  );
})();
`

// The page fills the window and never scrolls: GraphiQL scrolls inside its panes.
const layoutStyle = "html, body, #graphiql { height: 100%; margin: 0; } html { overflow: hidden; }"

/**
 * The style GraphiQL's dialogs (Radix, through react-remove-scroll) add
 * while one is open, to lock scrolling. Its text varies only with the
 * scrollbar's width, which is none on a page that never scrolls, so one
 * hash allows it. The browser test opens a dialog: if an upgrade changes
 * the style, it fails, and Chromium's message names the new hash.
 */
const scrollLockStyleHash = "'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='"

interface Page {
  readonly body: Uint8Array
  readonly headers: Record<string, string>
}

const build = (endpoint: string) =>
  Effect.promise(async (): Promise<Page> => {
    const [react, reactDom, graphiql, graphiqlStyle] = await Promise.all(explorerAssetFiles().map(readVendorFile))
    const scripts = [react!, reactDom!, graphiql!, startScript(endpoint)]
    const style = `${graphiqlStyle!}\n${layoutStyle}`
    const html = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
      "<title>task-api GraphQL explorer</title>\n" +
      // No favicon request: the explorer fetches nothing but its GraphQL requests.
      "<link rel=\"icon\" href=\"data:,\">\n" +
      `<style>${style}</style>\n</head>\n<body>\n<div id="graphiql"></div>\n` +
      scripts.map((script) => `<script>${script}</script>\n`).join("") +
      "</body>\n</html>\n"
    return {
      body: new TextEncoder().encode(html),
      headers: explorerHeaders(scripts.map(hashSource), [hashSource(style), scrollLockStyleHash])
    }
  })

/**
 * The explorer page's route effect for the GraphQL endpoint at `endpoint`.
 * The 1.5 MB page is read and hashed on the first view, then kept, as the
 * docs page is: start-up time and an idle server's memory do not grow.
 */
export const make = (endpoint: string) =>
  Effect.map(Effect.cached(build(endpoint)), (page) =>
    Effect.flatMap(page, ({ body, headers }) =>
      Effect.withFiber((fiber) => {
        exchangeOf(fiber)?.addHeaders(headers)
        return Effect.succeed(HttpServerResponse.uint8Array(body, { contentType: "text/html; charset=utf-8" }))
      })))
