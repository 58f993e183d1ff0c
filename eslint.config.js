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
      // A caught error (typed unknown) is rethrown as it came, after clean-up has run.
      "@typescript-eslint/only-throw-error": ["error", { allowThrowingUnknown: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Off: the Store, the backends and Apollo's plugin hooks are Promise-returning interfaces, and an
      // in-memory or fake implementation of one is an `async` method with nothing to await (which also
      // turns a throw into a rejection, as callers expect). The types already require the Promise.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    // Tests read GraphQL answers whose shape the query fixes and the assertion itself checks (a
    // wrong guess fails the test), through the harness's raw `post`/`get`, parsed JSON and fakes:
    // typing each answer would restate the query. Code under src/, scripts/ and web/ gets no such leave.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  // The config files themselves are plain JavaScript outside every tsconfig.
  { files: ["**/*.js"], extends: [tseslint.configs.disableTypeChecked] },
);
