import * as HttpApiMiddleware from "effect/http-api/HttpApiMiddleware"
import { PayloadTooLarge, UnsupportedMediaType } from "../domain/TaskErrors.ts"

export const maxBodyBytes = 64 * 1024

// Guards endpoints that take a JSON body. HttpApi alone would read a request
// without a content type as JSON and answer other types with plain text;
// declaring the guard here also puts 413 and 415 in the OpenAPI document.
export class JsonBody extends HttpApiMiddleware.Service<JsonBody>()("task-api/api/JsonBody", {
  error: [PayloadTooLarge, UnsupportedMediaType]
}) {}
