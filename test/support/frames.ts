import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { footage } from "./rtsp-server.js";

const run = promisify(execFile);

/** One real frame of a clip in ../shared/footage, as a JPEG (the kind of picture an alert carries). */
export async function footageFrame(clip: string, atSeconds: number, width = 640): Promise<Buffer> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-ss", String(atSeconds), "-i", footage(clip), "-frames:v", "1", "-vf", `scale=${width}:-2`, "-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", "4", "-"], { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}
