import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import { Api } from "../../api/Api.ts"
import { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { TaskRepo } from "../tasks/TaskRepo.ts"
import { Draining } from "./Draining.ts"

const ok = { status: "ok" } as const
const leaving = new ServiceUnavailable({ detail: "The instance is shutting down; another one will answer." })

export const SystemHttp = HttpApiBuilder.group(
  Api,
  "system",
  Effect.fnUntraced(function*(handlers) {
    const repo = yield* TaskRepo
    const drain = yield* Draining
    return handlers
      .handle("health", () => Effect.succeed(ok))
      .handle("ready", () => drain.draining ? Effect.fail(leaving) : Effect.as(repo.ready, ok))
  })
)
