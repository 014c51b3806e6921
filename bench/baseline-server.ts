// The benchmark's baseline: what a careful hand-written server does with
// Node's bare `http` and `pg`: the same SQL, the same cursor codec, the same
// token check (jose, HS256), a token bucket per subject, the same checks and
// response headers a client can see (ETag, RateLimit-*, security headers),
// and nothing else (no framework, no logging).
// Not shipped; `npm run bench` runs it beside the service.
//
// With FLOOR=1 it is the counterpart of bench/floor-server.ts: the same SQL
// and checks for the one benchmark user, without the token, the bucket and
// the headers.
import { jwtVerify } from "jose"
import { createSecretKey, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import pg from "pg"
import { makeCursorCodec } from "../src/server/tasks/CursorCodec.ts"

const floor = process.env.FLOOR === "1"
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
pool.on("error", () => {}) // an idle connection the server closed; the pool replaces it
const cursors = makeCursorCodec(Buffer.from(process.env.CURSOR_SECRET ?? "bench"))
const jwtKey = createSecretKey(Buffer.from(process.env.JWT_SECRET ?? ""))
// Verified tokens, as the service keeps them: verifying is the same work in
// both, and not what the comparison is about.
const verified = new Map<string, { sub: string; exp: number }>()
const limit = Number(process.env.RATE_LIMIT_REQUESTS ?? 600)
const refillMs = 60_000 / limit
const buckets = new Map<string, { tokens: number; at: number }>()

/** The caller's subject, or undefined when its token does not verify. */
const authenticate = async (req: IncomingMessage) => {
  const header = req.headers.authorization
  if (header === undefined || !header.startsWith("Bearer ")) return undefined
  const token = header.slice(7)
  const known = verified.get(token)
  if (known !== undefined && known.exp > Date.now() / 1000) return known.sub
  try {
    const { payload } = await jwtVerify(token, jwtKey, { algorithms: ["HS256"], requiredClaims: ["sub", "exp"] })
    if (verified.size >= 4096) verified.delete(verified.keys().next().value!)
    verified.set(token, { sub: payload.sub!, exp: payload.exp! })
    return payload.sub
  } catch {
    return undefined
  }
}

/** Takes a request from the owner's bucket, and says what is left in RateLimit headers. */
const withinLimit = (owner: string, res: ServerResponse) => {
  const now = Date.now()
  const bucket = buckets.get(owner) ?? { tokens: limit, at: now }
  bucket.tokens = Math.min(limit, bucket.tokens + (now - bucket.at) / refillMs) - 1
  bucket.at = now
  buckets.set(owner, bucket)
  res.setHeader("ratelimit-limit", String(limit))
  res.setHeader("ratelimit-remaining", String(Math.max(0, Math.floor(bucket.tokens))))
  res.setHeader("ratelimit-reset", String(Math.ceil(((limit - bucket.tokens) * refillMs) / 1000)))
  res.setHeader("ratelimit-policy", `${limit};w=60`)
  return bucket.tokens >= 0
}

// As src/server/http/SecurityHeaders.ts sends them (not imported: it would load Effect).
const apiHeaders = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

const etag = (task: { updated_at: string }) => floor ? {} : { etag: `"${task.updated_at}"` }

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const columns = `id, title, description, status, ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at`
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const statuses = new Set(["pending", "in_progress", "completed"])

const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
  const text = body === undefined ? "" : JSON.stringify(body)
  res.writeHead(status, {
    "content-type": status < 400 ? "application/json" : "application/problem+json",
    ...(floor ? {} : apiHeaders),
    ...headers
  })
  res.end(text)
}
const problem = (res: ServerResponse, status: number, detail: string) =>
  send(res, status, { type: "about:blank", title: String(status), status, detail })

const readJson = (req: IncomingMessage) =>
  new Promise<any>((resolve, reject) => {
    let size = 0
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > 65_536) reject(new Error("too large"))
      chunks.push(chunk)
    })
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString()))
      } catch (error) {
        reject(error)
      }
    })
  })

const validTitle = (title: unknown) =>
  typeof title === "string" && title.trim().length >= 1 && [...title.trim()].length <= 255 && !title.includes("\u0000")

const list = async (owner: string, url: URL, res: ServerResponse) => {
  const limit = Number(url.searchParams.get("limit") ?? 50)
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) return problem(res, 400, "limit")
  const status = url.searchParams.get("status")
  if (status !== null && !statuses.has(status)) return problem(res, 400, "status")
  const cursor = url.searchParams.get("cursor")
  const after = cursor === null ? undefined : cursors.decode(owner, cursor)
  if (cursor !== null && after === undefined) return problem(res, 400, "cursor")
  const values: Array<unknown> = [owner]
  const where: Array<string> = ["owner = $1"]
  if (status !== null) where.push(`status = $${values.push(status)}`)
  if (after !== undefined) {
    where.push(`(created_at, id) < ($${values.push(after.createdAt)}::timestamptz, $${values.push(after.id)}::uuid)`)
  }
  const text = `SELECT ${columns} FROM tasks WHERE ${where.join(" AND ")} ` +
    `ORDER BY tasks.created_at DESC, tasks.id DESC LIMIT $${values.push(limit + 1)}`
  const { rows } = await pool.query({ name: `list-${status !== null}-${after !== undefined}`, text, values })
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  send(res, 200, {
    items,
    next_cursor: rows.length > limit && last ? cursors.encode(owner, { createdAt: last.created_at, id: last.id }) : null
  })
}

const handle = async (req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  const [, root, id, extra] = url.pathname.split("/")
  if (url.pathname === "/health") return send(res, 200, { status: "ok" })
  if (root !== "tasks" || extra !== undefined) return problem(res, 404, "not found")
  const owner = floor ? "bench" : await authenticate(req)
  if (owner === undefined) return problem(res, 401, "token")
  if (!floor && !withinLimit(owner, res)) return problem(res, 429, "limit")
  if (id === undefined) {
    if (req.method === "GET") return list(owner, url, res)
    if (req.method !== "POST") return problem(res, 405, "method")
    if (!req.headers["content-type"]?.startsWith("application/json")) return problem(res, 415, "json")
    const body = await readJson(req)
    if (!validTitle(body?.title)) return problem(res, 400, "title")
    if (body.status !== undefined && !statuses.has(body.status)) return problem(res, 400, "status")
    const { rows } = await pool.query({
      name: "create",
      text: `INSERT INTO tasks (id, owner, title, description, status) VALUES ($1, $2, $3, $4, $5) RETURNING ${columns}`,
      values: [randomUUID(), owner, body.title.trim(), body.description ?? null, body.status ?? "pending"]
    })
    return send(res, 201, rows[0], { location: `/tasks/${rows[0].id}`, ...etag(rows[0]) })
  }
  if (!uuid.test(id)) return problem(res, 400, "id")
  if (req.method === "GET") {
    const { rows } = await pool.query({
      name: "get",
      text: `SELECT ${columns} FROM tasks WHERE id = $1 AND owner = $2`,
      values: [id, owner]
    })
    return rows.length === 0 ? problem(res, 404, "no task") : send(res, 200, rows[0], etag(rows[0]))
  }
  if (req.method === "PATCH") {
    if (!req.headers["content-type"]?.startsWith("application/json")) return problem(res, 415, "json")
    const body = await readJson(req)
    if (body.title !== undefined && !validTitle(body.title)) return problem(res, 400, "title")
    if (body.status !== undefined && !statuses.has(body.status)) return problem(res, 400, "status")
    const { rows } = await pool.query({
      name: "update",
      text: `UPDATE tasks SET
        title = COALESCE($1::text, title),
        description = CASE WHEN $2 THEN $3::text ELSE description END,
        status = COALESCE($4::text, status),
        updated_at = CASE
          WHEN (COALESCE($1::text, title), CASE WHEN $2 THEN $3::text ELSE description END, COALESCE($4::text, status))
               IS DISTINCT FROM (title, description, status)
          THEN GREATEST(clock_timestamp(), updated_at + interval '1 millisecond')
          ELSE updated_at
        END
        WHERE id = $5 AND owner = $6 RETURNING ${columns}`,
      values: [
        body.title?.trim() ?? null,
        body.description !== undefined,
        body.description ?? null,
        body.status ?? null,
        id,
        owner
      ]
    })
    return rows.length === 0 ? problem(res, 404, "no task") : send(res, 200, rows[0], etag(rows[0]))
  }
  if (req.method === "DELETE") {
    const { rowCount } = await pool.query({
      name: "delete",
      text: "DELETE FROM tasks WHERE id = $1 AND owner = $2",
      values: [id, owner]
    })
    return rowCount === 0 ? problem(res, 404, "no task") : send(res, 204)
  }
  return problem(res, 405, "method")
}

createServer((req, res) => {
  handle(req, res).catch(() => problem(res, 500, "failed"))
}).listen(Number(process.env.PORT ?? 3001), process.env.HOST ?? "127.0.0.1")

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0))
