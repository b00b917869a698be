import { Api, GrammyError, HttpError, InputFile, InputMediaBuilder } from "grammy";
import type { Update } from "grammy/types";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BotApiStandIn, imageSize } from "./bot-api/index.js";

/** A real JPEG of the given size. */
function jpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 40 } } }).jpeg().toBuffer();
}

describe("Bot API stand-in (the Telegram other tests talk to)", () => {
  let tg: BotApiStandIn;
  let api: Api;
  beforeAll(async () => {
    tg = await BotApiStandIn.start();
    api = new Api(tg.token, { apiRoot: tg.apiRoot });
  });
  afterAll(() => tg.close());

  it("long-polls: waits for an update, hands it over, and drops it once the offset confirms it", async () => {
    const alice = tg.user({ firstName: "Alice" });
    const chat = tg.privateChat(alice);
    const mark = tg.mark();
    const polling = api.getUpdates({ timeout: 20, offset: 0 });
    // The poll is waiting now: an update injected later still reaches it.
    await tg.waitFor((r) => r.method === "getUpdates", { after: mark, arrived: true });
    const sent = tg.send(alice, chat, "/status");
    const updates = await polling;
    expect(updates.map((u) => u.update_id)).toEqual([sent.update!.update_id]);
    expect(updates[0]!.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 7 }]);
    // Not confirmed yet: offset 0 returns it again; confirmed: gone.
    expect((await api.getUpdates({ timeout: 0, offset: 0 })).length).toBe(1);
    expect(await api.getUpdates({ timeout: 0, offset: sent.update!.update_id + 1 })).toEqual([]);
    expect(await api.getUpdates({ timeout: 0, offset: 0 })).toEqual([]);
  });

  it("ends an older long poll with 409 when a second one arrives (two bots on one token)", async () => {
    const mark = tg.mark();
    const first = api.getUpdates({ timeout: 20 }).catch((e: unknown) => e);
    await tg.waitFor((r) => r.method === "getUpdates", { after: mark, arrived: true });
    const second = api.getUpdates({ timeout: 0 });
    const error = await first;
    expect(error).toBeInstanceOf(GrammyError);
    expect((error as GrammyError).error_code).toBe(409);
    expect(await second).toEqual([]);
  });

  it("decodes multipart uploads: a photo keeps its bytes and size, an album keeps every photo", async () => {
    const owner = tg.user();
    const group = tg.group({ owner });
    const one = await jpeg(64, 48);
    const mark = tg.mark();
    const message = await api.sendPhoto(group.id, new InputFile(one, "a.jpg"), { caption: "<b>cam_1</b> &lt;x&gt;", parse_mode: "HTML" });
    expect(message.photo?.[0]).toMatchObject({ width: 64, height: 48 });
    expect(message.caption).toBe("cam_1 <x>");
    expect(message.caption_entities).toEqual([{ type: "bold", offset: 0, length: 5 }]);
    expect(tg.media(message)?.equals(one)).toBe(true);
    const request = await tg.waitFor((r) => r.method === "sendPhoto", { after: mark });
    expect(Object.values(request.files)[0]?.data.equals(one)).toBe(true);

    const two = await jpeg(32, 32);
    const album = await api.sendMediaGroup(group.id, [InputMediaBuilder.photo(new InputFile(one)), InputMediaBuilder.photo(new InputFile(two), { caption: "second" })]);
    expect(album).toHaveLength(2);
    expect((album[0] as { media_group_id?: string }).media_group_id).toBe((album[1] as { media_group_id?: string }).media_group_id);
    expect(tg.media(album[1]!)?.equals(two)).toBe(true);
    expect(imageSize(two)).toEqual({ width: 32, height: 32 });
  });

  it("rejects what Telegram rejects: unescaped HTML, an unchanged edit, bad button data, a non-image photo", async () => {
    const group = tg.group();
    const bad = await api.sendMessage(group.id, "camera <3", { parse_mode: "HTML" }).catch((e: unknown) => e);
    expect((bad as GrammyError).description).toMatch(/can't parse entities/);
    const ampersand = await api.sendMessage(group.id, "R&D", { parse_mode: "HTML" }).catch((e: unknown) => e);
    expect((ampersand as GrammyError).error_code).toBe(400);

    const markup = { inline_keyboard: [[{ text: "A", callback_data: "a" }]] };
    const sent = await api.sendMessage(group.id, "hello", { reply_markup: markup });
    const same = await api.editMessageReplyMarkup(group.id, sent.message_id, { reply_markup: markup }).catch((e: unknown) => e);
    expect((same as GrammyError).description).toMatch(/message is not modified/);
    const long = await api.sendMessage(group.id, "x", { reply_markup: { inline_keyboard: [[{ text: "B", callback_data: "d".repeat(65) }]] } }).catch((e: unknown) => e);
    expect((long as GrammyError).description).toMatch(/BUTTON_DATA_INVALID/);
    const notImage = await api.sendPhoto(group.id, new InputFile(Buffer.from("not a jpeg"))).catch((e: unknown) => e);
    expect((notImage as GrammyError).description).toMatch(/IMAGE_PROCESS_FAILED/);
    const tooLong = await api.sendMessage(group.id, "x".repeat(4097)).catch((e: unknown) => e);
    expect((tooLong as GrammyError).description).toMatch(/too long/);
  });

  it("privacy mode: in a group the bot sees commands for it, replies to it and mentions, nothing else", async () => {
    const bob = tg.user({ username: "bob_builder" });
    const group = tg.group({ forum: true });
    const topic = tg.topic(group, "Cameras");
    expect(tg.send(bob, group, "hello everyone").update).toBeUndefined();
    expect(tg.send(bob, group, "/arm@some_other_bot").update).toBeUndefined();
    expect(tg.send(bob, group, "/arm").update).toBeDefined();
    expect(tg.send(bob, group, `/arm@${tg.bot.username}`).update).toBeDefined();
    const question = await api.sendMessage(group.id, "Name?", { message_thread_id: topic });
    expect(question).toMatchObject({ message_thread_id: topic, is_topic_message: true });
    const answer = tg.send(bob, group, "cam1", { replyTo: question });
    expect(answer.update?.message).toMatchObject({ text: "cam1", message_thread_id: topic, reply_to_message: { message_id: question.message_id } });
    const open = tg.group({ privacy: false });
    expect(tg.send(bob, open, "hello everyone").update).toBeDefined();
  });

  it("presses buttons: the callback carries the button's data, is answered once, and edits show in the message", async () => {
    const alice = tg.user();
    const group = tg.group();
    const sent = await api.sendMessage(group.id, "alert", { reply_markup: { inline_keyboard: [[{ text: "Mute 30 min", callback_data: "al:m30:abc" }]] } });
    const press = tg.press(alice, sent, "Mute 30 min");
    const update = press.update as Update;
    expect(update.callback_query).toMatchObject({ data: "al:m30:abc", from: { id: alice.id }, message: { message_id: sent.message_id } });
    expect(await api.answerCallbackQuery(press.queryId, { text: "Muted" })).toBe(true);
    expect(await tg.answerOf(press)).toMatchObject({ params: { text: "Muted" } });
    const twice = await api.answerCallbackQuery(press.queryId).catch((e: unknown) => e);
    expect((twice as GrammyError).error_code).toBe(400);
    await api.editMessageReplyMarkup(group.id, sent.message_id, { reply_markup: { inline_keyboard: [[{ text: "Muted until 14:30 · Unmute", callback_data: "al:unmute:abc" }]] } });
    expect(tg.message(group.id, sent.message_id)?.reply_markup?.inline_keyboard[0]?.[0]?.text).toBe("Muted until 14:30 · Unmute");
    expect(() => tg.press(alice, sent, "Mute 30 min")).toThrow(/no button/);
    expect(tg.press(alice, sent, { data: "forged" }).update?.callback_query?.data).toBe("forged");
  });

  it("deletes only what a bot may delete: its own messages, and users' messages where it has the right", async () => {
    const carol = tg.user();
    const group = tg.group({ botIsAdmin: false });
    const theirs = tg.send(carol, group, "secret", { replyTo: undefined }).message;
    const refused = await api.deleteMessage(group.id, theirs.message_id).catch((e: unknown) => e);
    expect((refused as GrammyError).description).toMatch(/can't be deleted/);
    const dm = tg.privateChat(carol);
    const password = tg.send(carol, dm, "hunter2").message;
    expect(await api.deleteMessage(dm.id, password.message_id)).toBe(true);
    expect(tg.wasDeleted(dm.id, password.message_id)).toBe(true);
  });

  it("injects faults: 429 with retry_after, 500, reset and refused connections, slow answers", async () => {
    const group = tg.group();
    tg.fault({ kind: "429", retryAfter: 7, methods: ["sendMessage"], count: 1 });
    const limited = await api.sendMessage(group.id, "a").catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(GrammyError);
    expect((limited as GrammyError).parameters.retry_after).toBe(7);
    tg.fault({ kind: "status", status: 502, count: 1 });
    expect(((await api.getMe().catch((e: unknown) => e)) as GrammyError).error_code).toBe(502);
    tg.fault({ kind: "reset", count: 1 });
    expect(await api.getMe().catch((e: unknown) => e)).toBeInstanceOf(HttpError);
    await tg.refuseConnections();
    // The first call may still try a kept-alive connection the outage dropped (ECONNRESET); then: refused.
    await api.getMe().catch(() => undefined);
    const refused = await api.getMe().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HttpError);
    expect(((refused as HttpError).error as { code?: string }).code).toBe("ECONNREFUSED");
    await tg.acceptConnections();
    tg.fault({ kind: "slow", delayMs: 300, count: 1 });
    const mark = tg.mark();
    await api.sendMessage(group.id, "late");
    const slow = await tg.waitFor((r) => r.method === "sendMessage", { after: mark });
    expect(slow.fault).toBe("slow");
    expect((await api.getMe()).username).toBe(tg.bot.username);
    // Every request was recorded with its arrival time, in order.
    const times = tg.requests.map((r) => r.at);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });
});
