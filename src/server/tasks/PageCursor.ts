import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import { AppConfig } from "../AppConfig.ts"
import { type CursorCodec, makeCursorCodec } from "./CursorCodec.ts"

export type { PagePosition } from "./CursorCodec.ts"

export class PageCursor extends Context.Service<PageCursor, CursorCodec>()("task-api/server/PageCursor") {
  /** Signs with CURSOR_SECRET, or with a random key when it is unset. */
  static readonly layer = Layer.effect(
    PageCursor,
    Effect.map(AppConfig, ({ cursorSecret }) =>
      makeCursorCodec(cursorSecret === undefined ? randomBytes(32) : Buffer.from(Redacted.value(cursorSecret))))
  )

  /** A codec with a random key, for tests that build their own layers. */
  static readonly layerRandom = Layer.sync(PageCursor, () => makeCursorCodec(randomBytes(32)))
}
