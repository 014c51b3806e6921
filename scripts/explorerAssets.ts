// Copies the GraphQL explorer's browser files into dist/explorer (see
// src/server/http/ExplorerAssets.ts): part of `npm run build`.
import { copyFileSync, mkdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { explorerAssets, installedAsset } from "../src/server/http/ExplorerAssets.ts"

const target = fileURLToPath(new URL("../dist/explorer/", import.meta.url))
mkdirSync(target, { recursive: true })
for (const { from, name } of explorerAssets) copyFileSync(installedAsset(from), path.join(target, name))
