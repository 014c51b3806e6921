import { serverTarget } from "../support/Targets.ts"
import { taskApiContract } from "./TaskApiContract.ts"

taskApiContract("the built server over HTTP", () => serverTarget())
