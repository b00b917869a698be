/**
 * The decimation ffmpeg runs for every camera, on real ffmpeg: the average rate
 * is the detection rate whatever the camera's rate, a slower camera keeps every
 * frame, odd timestamps never stall it, and no frame waits for the next one to
 * arrive (the `fps` filter and a frame-threaded encoder each held one back).
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { decodeArgs } from "../../../src/pipeline/source/frame-source.js";
import { rateFilter } from "../../../src/pipeline/source/rate-filter.js";
import { until } from "../../support/wait.js";

const run = promisify(execFile);
const SIDE = 32;
const FRAME = SIDE * SIDE;

/** Frames per second of video that come out of the filter, for a synthetic input at `rate` fps. */
async function outputRate(rate: number, seconds: number, extraFilter = ""): Promise<number> {
  const { stdout } = await run(
    "ffmpeg",
    ["-v", "error", "-f", "lavfi", "-i", `testsrc2=size=${SIDE}x${SIDE}:rate=${rate}:duration=${seconds}${extraFilter}`, "-vf", rateFilter(5), "-fps_mode", "passthrough", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"],
    { encoding: "buffer", maxBuffer: 1 << 26 },
  );
  return stdout.length / FRAME / seconds;
}

describe("rate filter", () => {
  it.each([7, 10, 12.5, 15, 25, 29.97, 60])("thins %s fps to 5 fps on average", async (rate) => {
    expect(await outputRate(rate, 20)).toBeCloseTo(5, 1);
  });

  it.each([2, 3, 5])("keeps every frame of a %s fps camera", async (rate) => {
    expect(await outputRate(rate, 20)).toBeCloseTo(rate, 5);
  });

  it("keeps going when the timestamps jump back (a camera resetting its clock)", async () => {
    // After 10 s the timestamps start again from 0: the second half must still come out at 5 fps.
    expect(await outputRate(10, 20, ",setpts=if(gte(T\\,10)\\,PTS-10/TB\\,PTS)")).toBeCloseTo(5, 1);
  });

  it("hands each kept frame over before the camera's next frame exists", async () => {
    // Frames go in one at a time through a pipe at 10 fps; Vigil's real output options keep 5 fps.
    // A frame that ffmpeg held back until the next input would never come out here.
    const { outputOptions } = decodeArgs({ url: "rtsp://camera.invalid/stream", width: SIDE, height: SIDE, fps: 5 });
    const child = spawn("ffmpeg", ["-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", `${SIDE}x${SIDE}`, "-framerate", "10", "-i", "pipe:0", ...outputOptions, "pipe:1"], { stdio: ["pipe", "pipe", "inherit"] });
    let received = Buffer.alloc(0);
    child.stdout.on("data", (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const frameSize = FRAME * 1.5; // yuv420p in and out: the luma of frame k is 16 + 16k, unchanged
    try {
      for (let k = 0; k < 12; k++) {
        child.stdin.write(Buffer.concat([Buffer.alloc(FRAME, 16 + k * 16), Buffer.alloc(FRAME / 2, 128)]));
        if (k % 2 === 0) await until(() => received.length >= (k / 2 + 1) * frameSize, 10_000, `frame ${k} to come out before frame ${k + 1} goes in`);
      }
      const lumas = Array.from({ length: received.length / frameSize }, (_, i) => received[i * frameSize]!);
      expect(lumas.map((y) => Math.round((y - 16) / 16))).toEqual([0, 2, 4, 6, 8, 10]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
