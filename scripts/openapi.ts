// Writes the OpenAPI document that the server serves at /openapi.json.
// Usage: npm run openapi [-- path]   (default: openapi.json)
import "../src/requireNode.js"
import * as OpenApi from "effect/http-api/OpenApi"
import { writeFileSync } from "node:fs"
import { Api } from "../src/api/Api.ts"

const path = process.argv[2] ?? "openapi.json"
writeFileSync(path, JSON.stringify(OpenApi.fromApi(Api), null, 2) + "\n")
console.log(`Wrote ${path}`)
