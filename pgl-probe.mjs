import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import fs from "node:fs"
const dir = "/tmp/pgl-test"; fs.rmSync(dir, { recursive: true, force: true })
const t0 = performance.now()
const db = await PGlite.create(dir)
console.log("created", performance.now() - t0, fs.readdirSync(dir).slice(0, 30))
const s = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 10 })
await s.start(); console.log("conn", s.getServerConn())
try { const db2 = await PGlite.create(dir); console.log("second open ok?!", (await db2.query("select 1 as x")).rows) } catch (e) { console.log("second open failed", e.message) }
await s.stop(); await db.close()
