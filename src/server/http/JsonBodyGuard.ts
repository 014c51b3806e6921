import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { JsonBody, maxBodyBytes } from "../../api/JsonBody.ts"
import { PayloadTooLarge, UnsupportedMediaType } from "../../domain/TaskErrors.ts"

const jsonMediaType = /^application\/json\s*(;|$)/i

// Runs before the body is read: a declared length over the limit is refused
// at once; a chunked body is cut off by `MaxBodySize` (see HttpEdge).
export const JsonBodyGuard = Layer.succeed(JsonBody, (httpEffect) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const contentType = request.headers["content-type"]
    if (contentType === undefined || !jsonMediaType.test(contentType)) {
      return yield* new UnsupportedMediaType({
        detail: contentType === undefined
          ? "The request has no Content-Type; send the body as application/json."
          : "The request body must be application/json."
      })
    }
    if (Number(request.headers["content-length"]) > maxBodyBytes) {
      return yield* new PayloadTooLarge({ detail: `The request body is larger than ${maxBodyBytes} bytes.` })
    }
    return yield* httpEffect
  }))
