import { serverTarget } from "../support/Targets.ts"
import { taskGraphContract } from "./TaskGraphContract.ts"

taskGraphContract("the built server over HTTP", () => serverTarget())
