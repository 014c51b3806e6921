import { describe, expect, it } from "vitest"
import { serverTarget, type ServerTarget } from "../support/Targets.ts"
import { testDatabaseKind } from "../support/TestDatabase.ts"
import { taskApiContract } from "./TaskApiContract.ts"

// Users point DATABASE_URL at PgBouncer with nothing else to set: the whole
// contract, through Debian's PgBouncer with deploy/pgbouncer/pgbouncer.ini,
// in each pooling mode it may run in.
describe.skipIf((await testDatabaseKind) !== "postgres")("through PgBouncer", () => {
  for (const mode of ["transaction", "session"] as const) {
    describe(`${mode} pooling`, () => {
      let target: ServerTarget | undefined
      taskApiContract(`the built server through PgBouncer in ${mode} pooling`, async () => {
        target = await serverTarget({}, { pooler: mode })
        return target
      })

      it("reached PostgreSQL through the pooler, and knew it", () => {
        const output = target?.server.output ?? []
        expect(output.some((line) => line.includes("a pooler or proxy stands between, so statements go unnamed")))
          .toBe(true)
      })
    })
  }
})
