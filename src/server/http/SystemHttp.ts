import * as Effect from "effect/Effect"
import * as HttpApiBuilder from "effect/http-api/HttpApiBuilder"
import { Api } from "../../api/Api.ts"
import { ServiceUnavailable } from "../../domain/TaskErrors.ts"
import { TaskRepo } from "../tasks/TaskRepo.ts"
import { Draining, type DrainState } from "./Draining.ts"

const ok = { status: "ok" } as const
const leaving = new ServiceUnavailable({ detail: "The instance is shutting down; another one will answer." })

/** Whether the instance should be sent requests: not while it leaves, nor while its database does not answer. */
export const readiness = (repo: TaskRepo["Service"], drain: DrainState): Effect.Effect<void, ServiceUnavailable> =>
  Effect.suspend(() => drain.draining ? Effect.fail(leaving) : repo.ready)

export const SystemHttp = HttpApiBuilder.group(
  Api,
  "system",
  Effect.fnUntraced(function*(handlers) {
    const repo = yield* TaskRepo
    const drain = yield* Draining
    return handlers
      .handle("health", () => Effect.succeed(ok))
      .handle("ready", () => Effect.as(readiness(repo, drain), ok))
  })
)
