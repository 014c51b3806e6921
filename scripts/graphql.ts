// Writes the GraphQL schema that the server serves at /graphql, as SDL sorted
// by name, so that a change to the schema shows as a diff of this file.
// Usage: npm run graphql [-- path]   (default: schema.graphql)
import "../src/requireNode.js"
import { writeFileSync } from "node:fs"
import { taskGraphSdl } from "../src/api/TaskGraph.ts"

const path = process.argv[2] ?? "schema.graphql"
writeFileSync(path, taskGraphSdl())
console.log(`Wrote ${path}`)
