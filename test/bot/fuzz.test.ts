/**
 * Generated updates, seeded (VIGIL_FUZZ_SEED replays a failure): 10,000 from
 * people who are not admins change nothing and get silence or one refusal;
 * then 2,000 from an admin, with every kind of odd argument, never get the
 * generic "something went wrong" (every failure is a sentence), and nothing is
 * rejected unhandled. Vigil answers normally afterwards.
 */
import type { Message } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userMessage } from "../../src/errors.js";
import { openStore } from "../../src/store/index.js";
import { expectNoEffectOfFuzz, sendFuzz, startFuzzWorld, type FuzzWorld } from "./fuzz.js";
import { PASSPHRASE } from "./harness.js";

const SEED = Number(process.env.VIGIL_FUZZ_SEED ?? 20_260_314);
let world: FuzzWorld;
beforeAll(async () => {
  world = await startFuzzWorld();
}, 180_000);
afterAll(() => world?.stop());

describe("generated updates", () => {
  it("10,000 from people who are not admins (commands, huge and odd texts, edits, stale and forged presses, other chats) crash nothing and change nothing", async () => {
    await expectNoEffectOfFuzz(world, { seed: SEED, count: 10_000 });
  });

  it("2,000 from an admin get a sentence for every failure, never the generic error, and leave a store that opens", { timeout: 300_000 }, async () => {
    const { h, alice, group } = world;
    const mark = h.tg.mark();
    // Not /addcamera and /clip: they wait for cameras and answers by design (add-camera.test.ts and commands.test.ts).
    // Not Alice removing herself once she has made Mallory an admin: she may, and would then rightly get no answers.
    sendFuzz(h, { seed: SEED + 1, count: 2000, users: [alice], groups: [group], alertChat: group, exclude: ["/addcamera", "/clip", "/admins remove @alice_x"] });
    // The fuzz never names this camera: its answer is the last of each chat, so everything before it is done.
    for (const chat of [group, h.tg.privateChat(alice)]) {
      const barrier = h.tg.send(alice, chat, "/rename zz_barrier_zz x");
      await h.tg.waitFor((r) => r.ok === true && Number(r.params.chat_id) === chat.id && String(r.params.text).includes("zz_barrier_zz"), { after: barrier.mark, timeoutMs: 180_000 });
    }
    const generic = userMessage(new Error("any"));
    const replies = [...h.tg.outputs(group, mark), ...h.tg.outputs(h.tg.privateChat(alice), mark)].map((r) => r.result as Message | Message[]);
    expect(replies.length).toBeGreaterThan(500);
    expect(replies.filter((m) => !Array.isArray(m) && m.text === generic), `seed ${SEED + 1}`).toEqual([]);
    const answers = h.tg.requests.slice(mark).filter((r) => r.method === "answerCallbackQuery");
    expect(answers.some((r) => r.params.text === generic), `seed ${SEED + 1}`).toBe(false);
    expect(world.unhandled).toEqual([]);
    await h.store.flush();
    await expect(openStore(h.dir, { passphrase: PASSPHRASE })).resolves.toBeDefined();
    expect((await h.ask(alice, group, "/status")).text).toMatch(/^(Armed (home|away|night)|Disarmed) · running for /);
  });
});
