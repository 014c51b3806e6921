// Security lint for src/ only (`npm run lint`): eslint-plugin-security's
// recommended rules and nothing else. typescript-eslint supplies only the
// parser for the TypeScript sources, not its rule sets; plain JS uses
// ESLint's own parser.
import pluginSecurity from "eslint-plugin-security"
import tseslint from "typescript-eslint"

const security = pluginSecurity.configs.recommended

export default [
  {
    ...security,
    name: "task-api/security/ts",
    files: ["src/**/*.ts"],
    languageOptions: { parser: tseslint.parser, sourceType: "module" }
  },
  {
    ...security,
    name: "task-api/security/js",
    files: ["src/**/*.js"],
    languageOptions: { sourceType: "module" }
  }
]
