import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { footage, startRtspServer, type RtspTestServer } from "./rtsp-server.js";

const run = promisify(execFile);

/** Reads `frames` frames from a URL with a plain ffmpeg client; returns its exit code and stderr. */
async function read(url: string, frames = 3): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run("ffmpeg", ["-v", "error", "-rtsp_transport", "tcp", "-timeout", "5000000", "-i", url, "-frames:v", String(frames), "-f", "null", "-"], { timeout: 30_000 });
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? "" };
  }
}

describe("RTSP test server (the harness other tests rely on)", () => {
  let server: RtspTestServer;
  beforeAll(async () => {
    server = await startRtspServer({
      mounts: [
        { name: "cam1", clip: footage("wallflower_wavingtrees_10fps.mp4") },
        { name: "cam2", clip: footage("opencv-vtest_480x360_10fps.mp4"), clipOptions: { width: 640, height: 360, fps: 5 } },
      ],
      auth: { user: "admin", password: "pw 1&2" },
    });
  }, 120_000);
  afterAll(() => server.close());

  it("serves each mount with credentials and refuses wrong ones", async () => {
    expect((await read(server.url("cam1"))).code).toBe(0);
    expect((await read(server.url("cam2"))).code).toBe(0);
    const wrong = await read(server.url("cam1", { user: "admin", password: "nope" }));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/401/);
  });

  it("scales a clip on the server side and reports its exact loop length", () => {
    expect(server.clip("cam2")).toMatchObject({ width: 640, height: 360, fps: 5 });
    expect(server.clip("cam1").duration).toBeCloseTo(28.7, 1);
    const [first, second] = server.frameTimes("cam1", 24.2);
    expect(second! - first!).toBeCloseTo(28_700, -2);
  });

  it("comes back on the same port after being killed", async () => {
    const port = server.port;
    await server.kill();
    expect((await read(server.url("cam1"))).code).not.toBe(0);
    await server.restart();
    expect(server.port).toBe(port);
    expect((await read(server.url("cam1"))).code).toBe(0);
  });
});
