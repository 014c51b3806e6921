import * as HttpApiError from "effect/http-api/HttpApiError"

// Every problem uses `about:blank` with the status's reason phrase as title:
// the status says what kind of problem it is, `detail` says what happened.

export class TaskNotFound extends HttpApiError.Problem<TaskNotFound>()("TaskNotFound", {
  type: "about:blank",
  status: 404,
  title: "Not Found"
}) {}

export class ServiceUnavailable extends HttpApiError.Problem<ServiceUnavailable>()("ServiceUnavailable", {
  type: "about:blank",
  status: 503,
  title: "Service Unavailable"
}) {}

export class PayloadTooLarge extends HttpApiError.Problem<PayloadTooLarge>()("PayloadTooLarge", {
  type: "about:blank",
  status: 413,
  title: "Content Too Large"
}) {}

export class UnsupportedMediaType extends HttpApiError.Problem<UnsupportedMediaType>()("UnsupportedMediaType", {
  type: "about:blank",
  status: 415,
  title: "Unsupported Media Type"
}) {}

export class PreconditionFailed extends HttpApiError.Problem<PreconditionFailed>()("PreconditionFailed", {
  type: "about:blank",
  status: 412,
  title: "Precondition Failed"
}) {}

export class IdempotencyKeyReused extends HttpApiError.Problem<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  type: "about:blank",
  status: 422,
  title: "Unprocessable Content"
}) {}
