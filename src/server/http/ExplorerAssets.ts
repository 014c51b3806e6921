import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

// The browser scripts and style the GraphQL explorer inlines: GraphiQL 4, the
// last version published as a ready-made browser script (5 is ES modules on
// Monaco, with web workers, and needs a bundler), and React 18's browser
// scripts (19 publishes none). `npm run build` copies them beside the built
// code (scripts/explorerAssets.ts), so a production install needs none of
// these packages (they are dev dependencies: about a hundred packages, 59 MB).

export const explorerAssets = [
  { from: ["react", "umd/react.production.min.js"], name: "react.js" },
  { from: ["react-dom", "umd/react-dom.production.min.js"], name: "react-dom.js" },
  { from: ["graphiql", "dist/index.umd.js"], name: "graphiql.js" },
  { from: ["graphiql", "dist/style.css"], name: "graphiql.css" }
] as const

/** Where the build puts them: dist/explorer, beside dist/server. */
export const builtAssetsDirectory = fileURLToPath(new URL("../../explorer/", import.meta.url))

const resolve = createRequire(import.meta.url)

/** An asset where npm installed it. */
export const installedAsset = ([name, file]: readonly [string, string]) =>
  path.join(path.dirname(resolve.resolve(`${name}/package.json`)), file)

/** The files to read: the built copies, or, run from source (tests, development), the installed ones. */
export const explorerAssetFiles = () =>
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a fixed directory of the build
  existsSync(builtAssetsDirectory)
    ? explorerAssets.map(({ name }) => path.join(builtAssetsDirectory, name))
    : explorerAssets.map(({ from }) => installedAsset(from))
