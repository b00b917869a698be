/**
 * Playing Vigil's users through the Bot API stand-in: write, wait for the bot's
 * answers, walk through the add-camera conversation. Works the same whether
 * Vigil runs in the test's process (test/bot/harness.ts) or as `vigil start`
 * (test/main.test.ts, test/end-to-end.test.ts, bench/vigil.ts).
 */
import type { Chat, Message, User } from "grammy/types";
import { inlineButtons, type BotApiStandIn, type InjectedMessage, type RecordedRequest } from "./bot-api/index.js";
import { until } from "./wait.js";

export interface ChatOptions {
  threadId?: number;
  replyTo?: Message | number;
}

export interface ChatDriver {
  /** A user writes in a chat and the bot answers: resolves with the bot's next message there. */
  ask(user: User, chat: Chat, text: string, options?: ChatOptions): Promise<Message>;
  /** A user writes and the bot answers with `count` messages: resolves with them, in order. */
  askAll(user: User, chat: Chat, text: string, count: number, options?: ChatOptions): Promise<Message[]>;
  /** The first `count` messages the bot sent to a chat since `mark`, once there are that many. */
  sentSince(chat: Chat, mark: number, count: number): Promise<Message[]>;
  /** The bot's last message in a chat (for replying to its question). */
  lastBotMessage(chat: Chat): Message;
}

export interface ChatDriverOptions {
  /** How long to wait for an answer. Default 60 s. */
  timeoutMs?: number;
  /**
   * Messages that are not answers, which the driver skips (alerts arriving while
   * someone talks to the bot, as they do on an armed system). Default: none.
   */
  ignore?: (request: RecordedRequest) => boolean;
}

export function createChatDriver(tg: BotApiStandIn, options: ChatDriverOptions = {}): ChatDriver {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const ignore = options.ignore ?? (() => false);
  const deliver = (user: User, chat: Chat, text: string, opts: ChatOptions): InjectedMessage => {
    const sent = tg.send(user, chat, text, opts);
    if (!sent.update) throw new Error(`Telegram would not deliver ${JSON.stringify(text)} to the bot (privacy mode)`);
    return sent;
  };
  const sentSince = async (chat: Chat, mark: number, count: number): Promise<Message[]> => {
    const sends = () => tg.outputs(chat, mark).filter((r) => r.method.startsWith("send") && !ignore(r));
    await until(() => sends().length >= count, timeoutMs, `the bot sent ${count} message(s) to ${chat.id}`);
    return sends()
      .slice(0, count)
      .map((r) => {
        const first = (Array.isArray(r.result) ? r.result[0] : r.result) as Message;
        return tg.message(chat.id, first.message_id) ?? first;
      });
  };
  return {
    ask: async (user, chat, text, opts = {}) => (await sentSince(chat, deliver(user, chat, text, opts).mark, 1))[0]!,
    askAll: (user, chat, text, count, opts = {}) => sentSince(chat, deliver(user, chat, text, opts).mark, count),
    sentSince,
    lastBotMessage(chat) {
      const skipped = new Set(tg.outputs(chat).filter(ignore).map((r) => (r.result as Message).message_id));
      const mine = tg.messages(chat).filter((m) => m.from?.id === tg.bot.id && !skipped.has(m.message_id));
      const last = mine[mine.length - 1];
      if (!last) throw new Error("the bot has not written in this chat");
      return last;
    },
  };
}

/** What {@link addCameraByChat} does when the bot cannot open the camera. */
export interface ProbeRetry {
  /** Presses "Try again" this many times, as a user would. Default 0: the first failure throws. */
  retries?: number;
  /** Told the bot's sentence at each failure that is tried again. */
  onFailure?: (sentence: string) => void;
}

/**
 * The /addcamera conversation, answered as a user would (each answer replies to
 * the bot's question), up to pressing Save on the first picture, on a network
 * where no ONVIF camera answers the search, or with the search switched off
 * (the URL is typed). Resolves with the bot's "Saved …" message. When the bot
 * says it could not open the camera, it presses "Try again" up to
 * `retry.retries` times, then throws with the bot's sentence.
 */
export async function addCameraByChat(tg: BotApiStandIn, chat: ChatDriver, user: User, room: Chat, camera: { name: string; url: string; username?: string; password?: string }, timeoutMs = 60_000, retry: ProbeRetry = {}): Promise<Message> {
  const answer = (text: string) => chat.askAll(user, room, text, 1, { replyTo: chat.lastBotMessage(room) });
  await chat.askAll(user, room, "/addcamera", 2);
  // The name starts the search for ONVIF cameras (unless VIGIL_ONVIF_TIMEOUT=0); where none answers, the URL question follows.
  const named = tg.send(user, room, camera.name, { replyTo: chat.lastBotMessage(room) });
  await tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && Number(r.params.chat_id) === room.id && String(r.params.text).startsWith("The camera's stream URL?"), { after: named.mark, timeoutMs });
  await answer(camera.url);
  const login = camera.username === undefined ? ["-"] : [camera.username, camera.password ?? ""];
  for (const text of login.slice(0, -1)) await answer(text);
  // The last answer starts the connection: the picture comes after "Connecting…" (and, in a group where
  // the bot may not delete the password, a request to delete it).
  let mark = tg.send(user, room, login.at(-1)!, { replyTo: chat.lastBotMessage(room) }).mark;
  const inRoom = (r: RecordedRequest) => r.ok === true && Number(r.params.chat_id) === room.id;
  let tries = 0;
  for (;;) {
    // The picture with Save (an alert photo may arrive first on an armed system), or the sentence saying why there is none.
    const request = await tg.waitFor((r) => inRoom(r) && ((r.method === "sendPhoto" && inlineButtons(r.result as Message).some((b) => b.text === "Save")) || (r.method === "sendMessage" && inlineButtons(r.result as Message).some((b) => b.text === "Try again"))), { after: mark, timeoutMs });
    const sent = tg.message(room.id, (request.result as Message).message_id) ?? (request.result as Message);
    if (request.method === "sendPhoto") {
      const save = tg.press(user, sent, "Save");
      const [saved] = await chat.sentSince(room, save.mark, 1);
      return saved!;
    }
    const sentence = String(request.params.text);
    if (tries++ >= (retry.retries ?? 0)) throw new Error(`/addcamera ${camera.name}: the bot could not open the camera: ${sentence}`);
    retry.onFailure?.(sentence);
    mark = tg.press(user, sent, "Try again").mark;
  }
}

