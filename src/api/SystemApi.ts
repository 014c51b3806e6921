import * as Schema from "effect/Schema"
import * as HttpApiEndpoint from "effect/http-api/HttpApiEndpoint"
import * as HttpApiGroup from "effect/http-api/HttpApiGroup"
import * as OpenApi from "effect/http-api/OpenApi"
import { ServiceUnavailable } from "../domain/TaskErrors.ts"

export const StatusOk = Schema.Struct({ status: Schema.Literal("ok") }).annotate({ identifier: "StatusOk" })

export class SystemApi extends HttpApiGroup.make("system", { topLevel: true })
  .add(
    HttpApiEndpoint.get("health", "/health", { success: StatusOk }).annotateMerge(OpenApi.annotations({
      summary: "Liveness",
      description: "200 while the process serves requests."
    })),
    HttpApiEndpoint.get("ready", "/ready", { success: StatusOk, error: ServiceUnavailable }).annotateMerge(
      OpenApi.annotations({
        summary: "Readiness",
        description: "200 when the database answers, 503 while it cannot be reached."
      })
    )
  )
  .annotateMerge(OpenApi.annotations({ title: "System", description: "Health and readiness probes." }))
{}
