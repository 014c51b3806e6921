import { postgresTarget } from "../support/Targets.ts"
import { taskApiContract } from "./TaskApiContract.ts"

taskApiContract("PostgreSQL TaskRepo", postgresTarget)
