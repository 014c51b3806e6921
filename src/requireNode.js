// Effect 4 needs Node.js 22.19 or newer. This file imports nothing, so an
// older Node stops here with a clear message instead of failing somewhere
// inside a dependency.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `task-api needs Node.js 22.19 or newer (24 LTS recommended), but this is Node ${process.version}` +
      ` (${process.execPath}).\n` +
      `"npm ci" installs Node 24 into node_modules for the npm scripts; with --ignore-scripts it does not:` +
      ` run "npm rebuild node", or put Node 24 on your PATH.\n`
  )
  process.exit(1)
}
