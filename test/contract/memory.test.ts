import { memoryTarget } from "../support/Targets.ts"
import { taskApiContract } from "./TaskApiContract.ts"

taskApiContract("in-memory TaskRepo", memoryTarget)
