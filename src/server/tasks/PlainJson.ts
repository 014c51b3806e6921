import type * as Schema from "effect/Schema"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/** A schema whose values are already their own encoding: decoding changes no type in it. */
type PlainSchema<S extends Schema.Top> = S["Type"] extends S["Encoded"] ? S : never

/**
 * Answers `value` as JSON, as HttpApi would answer it for an endpoint that
 * declares `schema`, without running the schema's encoder. For a schema with
 * no transformation, encoding copies the value field by field and changes
 * nothing: on a page of 50 tasks that copy was a third of the request's CPU
 * (measured in process); for one task, with the headers a success declares,
 * encoding the union of GET's two successes cost more than the copy. The type
 * check refuses a schema whose type differs from its encoding (a Date encoded
 * as a string, say); a test checks that encoding the values the repositories
 * return leaves them as they are, byte for byte.
 */
export const plainJson = <S extends Schema.Top>(
  _schema: PlainSchema<S>,
  value: S["Type"],
  options?: { readonly status?: number; readonly headers?: Record<string, string> }
) => HttpServerResponse.text(JSON.stringify(value), { contentType: "application/json", ...options })
