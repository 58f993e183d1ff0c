// Type-aware lint, run by `npm test`: the rules that catch real faults in this codebase
// (a promise nobody awaits or handed where a callback's result is dropped, a type import that
// would load a module at run time), on top of the recommended sets of ESLint and typescript-eslint.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Generated files (their generators own the layout) and build output.
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "schema/**", "web/src/graphql.ts", "test/generated/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // The config files themselves are plain JavaScript outside every tsconfig.
  { files: ["**/*.js"], extends: [tseslint.configs.disableTypeChecked] },
);
