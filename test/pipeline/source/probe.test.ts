/**
 * The probe behind /addcamera and `vigil doctor` ("does this camera work?"),
 * with the ffmpeg program, against a camera of our own that answers 503 Service
 * Unavailable, as one starting up or with too many viewers does: it is asked
 * again, and when it stays busy it is said to be busy, not that its URL is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeStream } from "../../../src/pipeline/source/probe.js";
import { FakeRtspCamera, makeH264Clip, type H264Clip } from "../../support/fake-rtsp-camera.js";

describe("probing a camera", () => {
  let clip: H264Clip;
  const cameras: FakeRtspCamera[] = [];
  beforeAll(async () => {
    clip = await makeH264Clip(160, 120, 90);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(cameras.map((c) => c.close()));
  });
  const camera = async (busyFor: number) => {
    const started = await FakeRtspCamera.start({ clips: [clip], busyFor });
    cameras.push(started);
    return started;
  };

  it("asks a camera that answers 503 again each second, and shows its first picture once it sends", async () => {
    const starting = await camera(2);
    const probe = await probeStream(starting.url(), { camera: "gate", timeoutMs: 10_000 });
    expect(probe).toMatchObject({ width: 160, height: 120 });
    expect(starting.busyAnswers).toBe(2);
    expect(probe.firstFrameMs).toBeGreaterThanOrEqual(2000);
  });

  it("says a camera that stays busy is busy, in one sentence", async () => {
    const busy = await camera(1000);
    await expect(probeStream(busy.url(), { camera: "gate", timeoutMs: 4000 })).rejects.toMatchObject({
      reason: "busy",
      message: `Could not open gate at ${busy.url()}: the camera is busy or still starting up (it answered 503 Service Unavailable).`,
    });
    expect(busy.busyAnswers).toBeGreaterThanOrEqual(2);
  });
});
