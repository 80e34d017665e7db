// Lint gate for the frontend (`npm run lint`): ESLint's recommended rules plus typescript-eslint's
// type-checked set, which catches what tsc alone does not (floating promises, unsafe `any` flows,
// awaiting non-promises). Type information comes from tsconfig.json through the project service,
// using the TypeScript 6 API (`typescript` is aliased to @typescript/typescript6; `tsc` itself is 7).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    // A few rules from the strict set that cost nothing here and catch real mistakes: deprecated
    // DOM and Vite APIs, and a message union that gains a member without every switch handling
    // it. (no-unnecessary-condition is left out: it misreads state re-checked after an await.)
    rules: {
      eqeqeq: ["error", "smart"],
      "@typescript-eslint/no-unnecessary-boolean-literal-compare": "error",
      "@typescript-eslint/no-unnecessary-template-expression": "error",
      "@typescript-eslint/no-deprecated": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true },
      ],
    },
  },
  {
    // The config file itself is plain JavaScript outside tsconfig.json: lint it without types.
    files: ["eslint.config.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
