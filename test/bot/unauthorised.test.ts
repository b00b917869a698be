/**
 * Someone who is not an admin tries everything by hand: nothing changes,
 * groups stay silent, a private chat gets one short refusal per message, every
 * button press is answered and ignored, and nothing crashes. (fuzz.test.ts
 * does the same with 10,000 generated updates.)
 */
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUTTON_REFUSAL, REFUSAL } from "../../src/bot/features/access.js";
import { inlineButtons } from "../support/bot-api/index.js";
import { EVERY_COMMAND, startFuzzWorld, type FuzzWorld } from "./fuzz.js";
import { expectSilence, type Harness } from "./harness.js";

let world: FuzzWorld;
let h: Harness;
let alice: User;
let mallory: User;
let group: Chat;
let elsewhere: Chat;
let alert: Message;
let confirm: Message;
let modes: Message;
let schedules: Message;

beforeAll(async () => {
  world = await startFuzzWorld();
  ({ h, alice, mallory, group, elsewhere, alert, confirm, modes, schedules } = world);
}, 180_000);
afterAll(() => world?.stop());

describe("someone who is not an admin", () => {
  it("gets silence in the alert group and in other groups, a refusal in private, and changes nothing", async () => {
    const before = await world.dataDirState();
    await expectSilence(h, group, alice, () => {
      for (const text of EVERY_COMMAND) h.tg.send(mallory, group, text);
      h.tg.send(mallory, group, "cam1", { replyTo: confirm });
      const own = h.tg.send(mallory, group, "/help").message;
      h.tg.edit(mallory, group, own, "/disarm");
    });
    // In a group that is not Vigil's, even an admin gets silence; a press there is answered, so it marks the end.
    const strayMark = h.tg.mark();
    for (const text of EVERY_COMMAND) h.tg.send(mallory, elsewhere, text);
    h.tg.send(alice, elsewhere, "/status");
    const marker = h.tg.press(alice, h.tg.send(mallory, elsewhere, "/help").message, { data: "x" });
    expect((await h.tg.answerOf(marker)).params.text).toBe("This chat is not one of Vigil's.");
    expect(h.tg.outputs(elsewhere, strayMark)).toEqual([]);

    const dm = h.tg.privateChat(mallory);
    for (const text of EVERY_COMMAND) expect((await h.ask(mallory, dm, text)).text).toBe(REFUSAL);
    expect(h.tg.outputs(dm)).toHaveLength(EVERY_COMMAND.length);

    for (const message of [alert, modes, schedules]) {
      expect(inlineButtons(message).length).toBeGreaterThan(0);
      for (const button of inlineButtons(message).map((b) => b.text)) {
        const press = h.tg.press(mallory, message, button);
        expect((await h.tg.answerOf(press)).params.text).toBe(BUTTON_REFUSAL);
      }
    }
    const remove = h.tg.press(mallory, confirm, "Remove cam1");
    expect((await h.tg.answerOf(remove)).params.text).toBe(BUTTON_REFUSAL);

    expect(await world.dataDirState()).toEqual(before);
    expect(h.store.admins().map((a) => a.id)).toEqual([alice.id]);
    expect(world.unhandled).toEqual([]);
  });
});
