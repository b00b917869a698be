import { defineConfig } from "vitest/config";

// Tests drive real ffmpeg, real ONNX inference and real servers, so they are slow
// by unit-test standards and share two cores: run files in forked processes,
// two at a time, with generous timeouts. Speed is measured in `npm run bench`, not here.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    unstubEnvs: true,
  },
});
