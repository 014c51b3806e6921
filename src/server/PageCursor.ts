import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { TaskId } from "../domain/Task.ts"
import { AppConfig } from "./AppConfig.ts"

/** Where a page ends: the last task's sort key, `(created_at, id)`. */
export interface PagePosition {
  readonly createdAt: string
  readonly id: TaskId
}

const signatureBytes = 16
const positionPattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|([0-9a-f-]{36})$/

// A cursor is `base64url(position).base64url(hmac)`. The signature makes
// cursors opaque to clients: a forged or edited one is refused before any SQL
// sees it.
const makeCodec = (key: Uint8Array) => {
  const sign = (payload: string) => createHmac("sha256", key).update(payload).digest().subarray(0, signatureBytes)

  const encode = (position: PagePosition): string => {
    const payload = Buffer.from(`${position.createdAt}|${position.id}`).toString("base64url")
    return `${payload}.${sign(payload).toString("base64url")}`
  }

  const decode = (cursor: string): PagePosition | undefined => {
    const dot = cursor.indexOf(".")
    if (dot <= 0) return undefined
    const payload = cursor.slice(0, dot)
    const signature = Buffer.from(cursor.slice(dot + 1), "base64url")
    if (signature.length !== signatureBytes || !timingSafeEqual(signature, sign(payload))) return undefined
    const match = positionPattern.exec(Buffer.from(payload, "base64url").toString())
    return match === null ? undefined : { createdAt: match[1]!, id: match[2] as TaskId }
  }

  return { encode, decode }
}

export class PageCursor extends Context.Service<PageCursor, ReturnType<typeof makeCodec>>()(
  "task-api/server/PageCursor"
) {
  static readonly layer = Layer.effect(
    PageCursor,
    Effect.map(AppConfig, ({ cursorSecret }) =>
      makeCodec(cursorSecret === undefined ? randomBytes(32) : Buffer.from(Redacted.value(cursorSecret))))
  )

  /** A codec with a random key, for tests that build their own layers. */
  static readonly layerRandom = Layer.sync(PageCursor, () => makeCodec(randomBytes(32)))
}
