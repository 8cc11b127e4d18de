import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "build/",
      "dist/",
      "sdk/",
      "node_modules/",
      "examples/**/node_modules/",
      ".pulumi-test/",
      "**/*.gen.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
    },
  },
  // Type-aware rules for everything tsconfig.json compiles (the examples and the e2e program are
  // compiled by the Pulumi CLI instead): a promise is awaited, returned or explicitly voided, and
  // none is passed where a callback's result is ignored.
  {
    files: ["provider/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
    ignores: ["test/e2e/programs/**"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
);
