import { postgresTarget } from "../support/Targets.ts"
import { testDatabaseKind } from "../support/TestDatabase.ts"
import { taskGraphContract } from "./TaskGraphContract.ts"

// PostgreSQL, or the embedded PGlite when no PostgreSQL answers (see TestDatabase).
taskGraphContract(`SQL TaskRepo on ${await testDatabaseKind}`, postgresTarget)
