import * as HttpApi from "effect/http-api/HttpApi"
import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import * as OpenApi from "effect/http-api/OpenApi"
import { RequestDeadline } from "./RequestDeadline.ts"
import { SystemApi } from "./SystemApi.ts"
import { documentQueryTypes, TasksApi } from "./TasksApi.ts"

// The whole contract, importable alone by servers, clients and tests.
export class Api extends HttpApi.make("task-api")
  .add(TasksApi)
  .add(SystemApi)
  // Decode failures answer RFC 9457 problems, and every endpoint documents them.
  .middleware(HttpApiMiddleware.ProblemDetails)
  .middleware(RequestDeadline)
  // A 400 lists every bad field, not only the first.
  .annotate(HttpApi.ParamsParseOptions, { errors: "all" })
  .annotate(HttpApi.QueryParseOptions, { errors: "all" })
  .annotate(HttpApi.PayloadParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({
    title: "Task API",
    version: "0.1.0",
    description: "Create, list, read, update and delete tasks. Every error is an RFC 9457 problem document.",
    license: { name: "MIT", identifier: "MIT" },
    servers: [{ url: "/", description: "The server that serves this document" }],
    transform: documentQueryTypes
  }))
{}
