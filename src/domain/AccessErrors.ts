import * as HttpApiError from "effect/http-api/HttpApiError"

// Answers about who may call, rather than about tasks. `detail` names the
// problem with the credentials; it never echoes them.

export class Unauthorized extends HttpApiError.Problem<Unauthorized>()("Unauthorized", {
  type: "about:blank",
  status: 401,
  title: "Unauthorized"
}) {}

export class TooManyRequests extends HttpApiError.Problem<TooManyRequests>()("TooManyRequests", {
  type: "about:blank",
  status: 429,
  title: "Too Many Requests"
}) {}
