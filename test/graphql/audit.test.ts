import { serverAudits } from "graphql-http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withToken } from "../support/Auth.ts"
import { type ServerTarget, serverTarget } from "../support/Targets.ts"

// graphql-http's audit suite: the GraphQL-over-HTTP specification's
// requirements (MUST, SHOULD and MAY), each a test, run against the built
// server as a user with a token. Every one passes; a MUST that fails is a
// bug, a SHOULD or MAY that fails needs a reason written here.

let target: ServerTarget | undefined

const audits = serverAudits({
  url: () => `${target!.server.url}/graphql`,
  fetchFn: (input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, withToken(init))
})

describe("GraphQL over HTTP, audited by graphql-http against the built server", () => {
  beforeAll(async () => {
    target = await serverTarget()
  })
  afterAll(() => target?.close())

  it.each(audits.map((audit) => [`${audit.id} ${audit.name}`, audit] as const))("%s", async (_, audit) => {
    const result = await audit.fn()
    expect(result.status === "ok" ? "ok" : `${result.status}: ${result.reason}`).toBe("ok")
  })
})
