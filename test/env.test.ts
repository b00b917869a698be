import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env.js";
import { ConfigError } from "../src/errors.js";

describe("parseEnv", () => {
  it("reads the detector's thread count, 1 to 16, and refuses anything else in one sentence naming the variable", () => {
    expect(parseEnv({}).detectorThreads).toBeUndefined();
    expect(parseEnv({ VIGIL_DETECTOR_THREADS: "2" }).detectorThreads).toBe(2);
    expect(parseEnv({ VIGIL_DETECTOR_THREADS: "16" }).detectorThreads).toBe(16);
    for (const bad of ["0", "17", "1.5", "two", "-1"]) {
      expect(() => parseEnv({ VIGIL_DETECTOR_THREADS: bad }), bad).toThrow(ConfigError);
      expect(() => parseEnv({ VIGIL_DETECTOR_THREADS: bad }), bad).toThrow("VIGIL_DETECTOR_THREADS must be a whole number from 1 to 16.");
    }
  });
});
