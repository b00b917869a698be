import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { footage, startRtspServer, type RtspTestServer } from "../../support/rtsp-server.js";
import { runInSmallFilesystem } from "../../support/small-fs.js";

interface Outcome {
  firstClip?: boolean;
  fillError?: string;
  pausedWhileFull?: string;
  secondClip?: boolean;
  stateWhileFull?: string;
  secondInHistory?: boolean;
  thirdClip?: boolean;
  thirdClipSeconds?: number;
  handleMs?: number;
  jpegInClear: number;
  mp4InClear: number;
  unhandled: number;
  error?: string;
}

describe("disk full while recording (a real 4 MB filesystem)", () => {
  let server: RtspTestServer;
  beforeAll(async () => {
    server = await startRtspServer({ mounts: [{ name: "cam1", clip: footage("wallflower_wavingtrees_10fps.mp4") }] });
  }, 120_000);
  afterAll(() => server.close());

  it("pauses clips cleanly, keeps the alert, and resumes recording when space returns", async () => {
    const { code, result, stderr } = await runInSmallFilesystem<Outcome>(4 * 1024 * 1024, "test/pipeline/record/fixtures/disk-full.ts", [server.url("cam1")], 180_000);
    expect(result.error, stderr).toBeUndefined();
    expect(code).toBe(0);
    expect(result.firstClip).toBe(true);
    expect(result.fillError).toBe("ENOSPC");
    expect(result.pausedWhileFull).toMatch(/disk/i);
    expect(result.secondClip).toBe(false);
    expect(result.stateWhileFull).toBe("recording"); // the ring buffer is in memory: it never stopped
    expect(result.secondInHistory).toBe(true); // its picture waited in memory and was written when space returned
    expect(result.thirdClip).toBe(true);
    expect(result.thirdClipSeconds).toBeGreaterThan(3);
    expect(result.jpegInClear).toBe(0);
    expect(result.mp4InClear).toBe(0);
    expect(result.unhandled).toBe(0);
  }, 200_000);
});
