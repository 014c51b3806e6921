import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpApiClient from "effect/http-api/HttpApiClient"
import { Api } from "./api/Api.ts"

export { Api } from "./api/Api.ts"
export * from "./domain/Task.ts"
export * from "./domain/TaskErrors.ts"

/**
 * A typed client for the Task API, derived from the same definition the
 * server implements: every endpoint is a method, every error a typed failure.
 *
 *     const client = yield* makeClient("http://localhost:3000")
 *     const task = yield* client.tasks.create({ payload: { title: "Write the report" } })
 */
export const makeClient = (baseUrl: string | URL) =>
  HttpApiClient.make(Api, { baseUrl }).pipe(Effect.provide(FetchHttpClient.layer))

export type TaskApiClient = Effect.Success<ReturnType<typeof makeClient>>
