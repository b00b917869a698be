import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { DetectorStatus } from "../../../src/domain/pipeline.js";
import { findModel, readManifest, type ModelEntry } from "../../../src/models.js";
import { createDetectionService } from "../../../src/pipeline/detect/detection-service.js";
import { createOnnxDetector, loadDetector } from "../../../src/pipeline/detect/onnx-detector.js";
import { wholeFrame, type Frame } from "../../../src/pipeline/frame.js";
import { grabFrames, MODELS_DIR } from "../../support/footage.js";
import { tempDir } from "../../support/tmp.js";

let frame: Frame;
let entry: ModelEntry;
beforeAll(async () => {
  [frame] = (await grabFrames("opencv-vtest_480x360_10fps.mp4", 480, 360, { at: 46, count: 1 })) as [Frame];
  entry = findModel(await readManifest());
});

const request = (cameraId: string) => ({ cameraId, frame, regions: [wholeFrame(frame)], minScore: 0.5 });

describe("the shared detection service", () => {
  it("serves cameras in turn and answers a camera's older waiting frame `superseded` when a newer one arrives", async () => {
    const service = await createDetectionService({ model: entry.name, load: () => loadDetector({ entry, modelsDir: MODELS_DIR }) });
    try {
      const a = service.detect(request("front"));
      const b1 = service.detect(request("garden"));
      const b2 = service.detect(request("garden"));
      const [ra, rb1, rb2] = await Promise.all([a, b1, b2]);
      expect(ra.status).toBe("done");
      expect(rb1.status).toBe("superseded");
      expect(rb2.status).toBe("done");
      if (rb2.status === "done") expect(rb2.objects.filter((o) => o.label === "person")).toHaveLength(3);
      expect(service.stats()).toMatchObject({ runs: 2, superseded: 1, failures: 0 });
    } finally {
      await service.close();
    }
  });

  it("answers `unavailable` with the reason while the model is missing, and recovers once it is installed", async () => {
    const dir = await tempDir();
    const statuses: DetectorStatus[] = [];
    const service = await createDetectionService({ model: entry.name, load: () => loadDetector({ entry, modelsDir: dir }), onStatus: (s) => statuses.push(s), retryAfterMs: 0 });
    try {
      expect(service.status()).toEqual({ ok: false, model: "yolox-nano-416", reason: `The detector model yolox-nano-416 is missing from ${dir}; run \`npm run models\` to install it.` });
      expect(await service.detect(request("front"))).toEqual({ status: "unavailable", reason: service.status().reason });
      // `npm run models` while Vigil runs: the next request after the retry delay reloads it.
      await fs.copyFile(path.join(MODELS_DIR, entry.file), path.join(dir, entry.file));
      await expect.poll(async () => (await service.detect(request("front"))).status, { timeout: 20_000 }).toBe("done");
      expect(statuses.map((s) => s.ok)).toEqual([false, true]);
    } finally {
      await service.close();
    }
  });

  it("turns a session error at run time into `unavailable` and a status change, instead of an exception", async () => {
    const statuses: DetectorStatus[] = [];
    const service = await createDetectionService({
      model: "broken",
      // 320x320 fed to a 416x416 model: onnxruntime throws inside session.run.
      load: () => createOnnxDetector({ path: path.join(MODELS_DIR, entry.file), format: "yolox", name: "yolox-nano-416", inputSize: 320 }),
      onStatus: (s) => statuses.push(s),
      retryAfterMs: 60_000,
    });
    try {
      const outcome = await service.detect(request("front"));
      expect(outcome.status).toBe("unavailable");
      expect(service.status().ok).toBe(false);
      expect(service.status().reason).toMatch(/^the detector failed while running \(/);
      expect(statuses).toHaveLength(1);
      // Within the retry delay it does not even try: no pile-up of failing runs.
      expect((await service.detect(request("front"))).status).toBe("unavailable");
      expect(service.stats().failures).toBe(1);
    } finally {
      await service.close();
    }
  });
});
