import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import { ServiceUnavailable } from "../domain/TaskErrors.ts"

// Every endpoint answers within a deadline, or with a 503 the client may retry.
export class RequestDeadline extends HttpApiMiddleware.Service<RequestDeadline>()("task-api/api/RequestDeadline", {
  error: ServiceUnavailable
}) {}
