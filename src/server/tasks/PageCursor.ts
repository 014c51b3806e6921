import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import { randomBytes } from "node:crypto"
import { AppConfig } from "../AppConfig.ts"
import { type CursorCodec, makeCursorCodec } from "./CursorCodec.ts"

export type { PagePosition } from "./CursorCodec.ts"

/**
 * The key every instance signs cursors with: the one in the database, or, for
 * the first instance to ask, a new random one it stores there. Concurrent
 * first instances race on the insert; all of them read the winner's key.
 */
const sharedKey = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`INSERT INTO service_keys (name, key) VALUES ('cursor', ${randomBytes(32)}) ON CONFLICT (name) DO NOTHING`
  const [stored] = yield* sql<{ key: Uint8Array }>`SELECT key FROM service_keys WHERE name = 'cursor'`
  return stored!.key
})

export class PageCursor extends Context.Service<PageCursor, CursorCodec>()("task-api/server/PageCursor") {
  /**
   * Signs with CURSOR_SECRET, or else with the key the instances share in
   * the database, so that a cursor pages on any instance and after any
   * restart with nothing to configure.
   */
  static readonly layer = Layer.effect(
    PageCursor,
    Effect.gen(function*() {
      const { cursorSecret } = yield* AppConfig
      const key = cursorSecret === undefined ? yield* sharedKey : Buffer.from(Redacted.value(cursorSecret))
      return makeCursorCodec(key)
    })
  )

  /** A codec with a random key, for tests that build their own layers. */
  static readonly layerRandom = Layer.sync(PageCursor, () => makeCursorCodec(randomBytes(32)))
}
