import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpApi from "effect/http-api/HttpApi"
import type * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import { problem } from "./ProblemResponses.ts"

const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const
// The router cannot take HEAD routes: it answers HEAD with the GET route.
const routable = methods.filter((method) => method !== "HEAD")

type Method = typeof methods[number]

/**
 * The router answers a known path with an unknown method as if the path did
 * not exist. This registers, for every path the API serves (and the extra
 * paths given, with the methods each serves), a 405 with `Allow` for each
 * method the path does not take.
 */
export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>,
  extraPaths: ReadonlyArray<readonly [path: `/${string}`, methods: ReadonlyArray<Method>]>
) =>
  HttpRouter.use(Effect.fnUntraced(function*(router) {
    const allowed = new Map<string, Set<string>>(extraPaths.map(([path, served]) => [path, new Set(served)]))
    HttpApi.reflect(api, {
      onGroup: () => {},
      onEndpoint: ({ endpoint }) => {
        const set = allowed.get(endpoint.path) ?? new Set<string>()
        set.add(endpoint.method)
        allowed.set(endpoint.path, set)
      }
    })
    for (const [path, set] of allowed) {
      // HEAD is served wherever GET is.
      if (set.has("GET")) set.add("HEAD")
      const allow = methods.filter((method) => set.has(method)).join(", ")
      const response = problem(405, `${path.replace(/:(\w+)/g, "{$1}")} accepts only ${allow}.`, { allow })
      for (const method of routable) {
        if (!set.has(method)) yield* router.add(method, path as HttpRouter.PathInput, response)
      }
    }
  }))
