import { defineConfig } from "vitest/config";

// Tests drive real ffmpeg, real ONNX inference and real servers, so they are slow
// by unit-test standards and share two cores: run files in forked processes,
// two at a time, with generous timeouts. Speed is measured in `npm run bench`, not here.
// The fault tests that take minutes live in test/faults and run with `npm run test:faults`
// (vitest.faults.config.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/faults/**", "**/node_modules/**"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    unstubEnvs: true,
  },
});
