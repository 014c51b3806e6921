import { memoryTarget } from "../support/Targets.ts"
import { taskGraphContract } from "./TaskGraphContract.ts"

taskGraphContract("in-memory TaskRepo", memoryTarget)
