import { memoryTarget } from "../support/Targets.ts"
import { taskGraphContract } from "./TaskGraphContract.ts"
import { graphqlLimitsSuite } from "./TaskGraphLimits.ts"
import { graphqlOverHttpSuite } from "./TaskGraphTransport.ts"

taskGraphContract("in-memory TaskRepo", memoryTarget)
graphqlOverHttpSuite("in process", memoryTarget)
graphqlLimitsSuite("in process", memoryTarget)
