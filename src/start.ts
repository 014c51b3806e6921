// The entry point: check the Node version before anything loads Effect.
import "./requireNode.js"

await import("./main.ts")
