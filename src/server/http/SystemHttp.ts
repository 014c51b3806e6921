import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import { Api } from "../../api/Api.ts"
import { TaskRepo } from "../tasks/TaskRepo.ts"

const ok = { status: "ok" } as const

export const SystemHttp = HttpApiBuilder.group(
  Api,
  "system",
  Effect.fnUntraced(function*(handlers) {
    const repo = yield* TaskRepo
    return handlers
      .handle("health", () => Effect.succeed(ok))
      .handle("ready", () => Effect.as(repo.ready, ok))
  })
)
