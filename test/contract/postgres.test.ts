import { postgresTarget } from "../support/Targets.ts"
import { testDatabaseKind } from "../support/TestDatabase.ts"
import { taskApiContract } from "./TaskApiContract.ts"

// PostgreSQL, or the embedded PGlite when no PostgreSQL answers (see TestDatabase).
taskApiContract(`SQL TaskRepo on ${await testDatabaseKind}`, postgresTarget)
