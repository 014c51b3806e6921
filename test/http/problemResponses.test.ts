import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { describe, expect, it } from "vitest"
import { toProblem } from "../../src/server/http/ProblemResponses.ts"

const request = HttpServerRequest.fromWeb(new Request("http://task-api.test/graphql", { method: "POST" }))

const bodyOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : undefined

describe("toProblem, at the edge", () => {
  it("leaves a JSON error body as its route wrote it: GraphQL's 400s, problem documents", () => {
    const graphql = HttpServerResponse.text(JSON.stringify({ errors: [{ message: "Syntax Error" }] }), {
      status: 400,
      contentType: "application/graphql-response+json; charset=utf-8"
    })
    const json = HttpServerResponse.text("{\"errors\":[]}", { status: 400, contentType: "application/json" })
    const problem = HttpServerResponse.text("{}", { status: 404, contentType: "application/problem+json" })
    for (const response of [graphql, json, problem]) expect(toProblem(response, request)).toBe(response)
  })

  it("makes an empty or non-JSON error body a problem document, keeping the other headers", () => {
    const empty = HttpServerResponse.empty({ status: 405, headers: { allow: "GET, HEAD, POST" } })
    const text = HttpServerResponse.text("Unsupported", { status: 415, contentType: "text/plain" })
    const emptyJson = HttpServerResponse.empty({ status: 500, headers: { "content-type": "application/json" } })
    for (const response of [empty, text, emptyJson]) {
      const answered = toProblem(response, request)
      expect(answered.headers["content-type"]).toBe("application/problem+json")
      expect(JSON.parse(bodyOf(answered)!)).toMatchObject({ type: "about:blank", status: response.status })
    }
    expect(toProblem(empty, request).headers.allow).toBe("GET, HEAD, POST")
  })
})
