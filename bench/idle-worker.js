// The benchmark's pipeline process: N idle cameras through the compiled pipeline
// (dist/, as `vigil start` runs it; under tsx its loader thread alone costs ~0.5 %
// of a core), until SIGTERM. Prints "ready" once every camera has a frame, and
// its per-camera stats as JSON on the way out.
import { setTimeout as sleep } from "node:timers/promises";
import { createPipeline } from "../dist/pipeline/index.js";
import { defaultSettings } from "../dist/domain/camera.js";

const [count, clip] = [Number(process.argv[2]), process.argv[3]];
const pipeline = await createPipeline();
pipeline.reconcile(
  Array.from({ length: count }, (_, i) => ({ id: `idle${i}`, name: `idle${i}`, url: clip, armed: true, mutedUntil: null, settings: { ...defaultSettings(), width: 640, height: 360, fps: 5 } })),
  true,
);
while (!pipeline.status().every((s) => s.framesIn > 0)) await sleep(100);
process.stdout.write("ready\n");
await new Promise((resolve) => process.once("SIGTERM", resolve));
const stats = pipeline.stats();
await pipeline.stop();
process.stdout.write(`${JSON.stringify(stats)}\n`);
