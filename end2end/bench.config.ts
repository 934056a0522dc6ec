import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// Console benchmarks (bench/console.sh): same browser set-up as the tests,
// figures printed to the terminal.
export default defineConfig({
  ...base,
  testDir: "./bench",
  testMatch: /.*\.bench\.ts/,
  timeout: 300_000,
});
