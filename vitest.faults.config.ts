import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// `npm run test:faults`: the fault tests that take minutes (Vigil as a process through
// camera drops, Telegram outages with SIGKILL, a full disk, a whole session), run
// after `npm test` in CI. One file at a time: several of them restart servers and count
// processes and open files; like every test, they assert what a user would notice, never speed.
export default defineConfig({
  test: {
    ...base.test,
    include: ["test/faults/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 180_000,
  },
});
