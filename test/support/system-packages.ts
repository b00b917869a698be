/**
 * The first step of `npm test` and `npm run test:faults`: the Debian packages the
 * tests need (ffmpeg, a font, gst-rtsp-server, Mosquitto), installed with apt-get
 * when run as root, else one sentence naming the `sudo apt-get install` line, within
 * seconds and before anything is built. Run with tsx, so it needs no build.
 */
import { userMessage } from "../../src/errors.js";
import { ensureSystemPackages, TEST_NEEDS } from "../../src/system-deps.js";

try {
  await ensureSystemPackages(TEST_NEEDS, { who: "The tests need", env: process.env, hint: "(run as root, npm test installs them itself)", log: (line) => process.stderr.write(`${line}\n`) });
} catch (error) {
  process.stderr.write(`${userMessage(error)}\n`);
  process.exit(1);
}
