import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto"
import type { TaskId } from "../../domain/Task.ts"

/** Where a page ends: the last task's sort key, `(created_at, id)`. */
export interface PagePosition {
  readonly createdAt: string
  readonly id: TaskId
}

const signatureBytes = 16
const positionPattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|([0-9a-f-]{36})$/

/**
 * A cursor is `base64url(position).base64url(hmac)`. The signature makes
 * cursors opaque to clients: a forged or edited one is refused before any SQL
 * sees it. It also covers the owner the cursor was issued to, so one user's
 * cursor is refused from another, though the row it names is not theirs anyway. The key is made a KeyObject once; given raw bytes, every HMAC would
 * import the key again (a tenth of a list request's CPU, measured).
 */
export const makeCursorCodec = (secret: Uint8Array) => {
  const key: KeyObject = createSecretKey(secret)
  // The owner's length first, so no owner and payload pair signs like another.
  const sign = (owner: string, payload: string) =>
    createHmac("sha256", key).update(`${owner.length}:${owner}|${payload}`).digest().subarray(0, signatureBytes)

  const encode = (owner: string, position: PagePosition): string => {
    const payload = Buffer.from(`${position.createdAt}|${position.id}`).toString("base64url")
    return `${payload}.${sign(owner, payload).toString("base64url")}`
  }

  const decode = (owner: string, cursor: string): PagePosition | undefined => {
    const dot = cursor.indexOf(".")
    if (dot <= 0) return undefined
    const payload = cursor.slice(0, dot)
    const signature = Buffer.from(cursor.slice(dot + 1), "base64url")
    if (signature.length !== signatureBytes || !timingSafeEqual(signature, sign(owner, payload))) return undefined
    const match = positionPattern.exec(Buffer.from(payload, "base64url").toString())
    return match === null ? undefined : { createdAt: match[1]!, id: match[2] as TaskId }
  }

  return { encode, decode }
}

export type CursorCodec = ReturnType<typeof makeCursorCodec>
