/**
 * A Telegram Bot API stand-in over node:http, for tests and benchmarks. Vigil's
 * real grammY client talks to it through `VIGIL_TELEGRAM_API_ROOT`.
 *
 * It keeps a small world (users, private chats, groups with privacy mode and
 * forum topics, every message with its id and current state), answers the
 * methods Vigil uses the way Telegram does (including its errors: HTML that
 * does not parse, "message is not modified", stale callback queries, 409 on a
 * second long poll), records every request with its arrival time and decoded
 * files, lets a test play users (messages, commands, edits, button presses) and
 * await requests, and injects faults (refused connections, resets, 5xx, 429
 * with retry_after, slow answers).
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { BotCommand, Chat, ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update, User } from "grammy/types";
import { HtmlParseError, parseTelegramHtml } from "./html.js";
import { multipartBoundary, parseMultipart, type UploadedFile } from "./multipart.js";

export type { UploadedFile };

export interface BotApiOptions {
  /** Default: a random token of Telegram's shape. */
  token?: string;
  /** The bot's @username without the @. Default `vigil_test_bot`. */
  botUsername?: string;
  /** Interface to listen on. Default 127.0.0.1 (port 0: a free port). */
  host?: string;
}

/** One request as it arrived, with what it was answered. */
export interface RecordedRequest {
  index: number;
  method: string;
  /** Parameters, whatever the encoding (JSON, multipart, form, query), with JSON-valued fields decoded. */
  params: Record<string, unknown>;
  /** Uploaded files by form field (grammY: the id that an `attach://` value names). */
  files: Record<string, UploadedFile>;
  /** Epoch ms (sub-ms precision) when the request's headers arrived. */
  at: number;
  /** Epoch ms when its body had been read. */
  bodyAt: number;
  /** Filled in when it has been answered. */
  status?: number;
  ok?: boolean;
  result?: unknown;
  description?: string;
  /** The fault injected into this request, if any. */
  fault?: Fault["kind"];
}

/** A fault applied to matching requests until cleared (or `count` times). */
export type Fault = (
  | { kind: "reset" }
  | { kind: "status"; status: number; description?: string }
  | { kind: "429"; retryAfter: number }
  | { kind: "slow"; delayMs: number; /** Answer late but do the work first (so a client that times out has still sent it). */ after?: boolean }
) & {
  /** Only these methods. Default: every method. */
  methods?: string[];
  /** Apply to this many matching requests, then lift. Default: until cleared. */
  count?: number;
};

export interface Injected {
  /** Index of the next request: wait for answers with `{ after: mark }`. */
  mark: number;
  /** The update the bot will receive, or undefined when Telegram would not deliver it (privacy mode). */
  update: Update | undefined;
}

export interface InjectedMessage extends Injected {
  message: Message;
}

export interface InjectedPress extends Injected {
  queryId: string;
}

export interface WaitOptions {
  /** Only requests with index >= after (a {@link BotApiStandIn.mark}). Default 0. */
  after?: number;
  /** Match requests as soon as they arrive, before they are answered (a long poll that is waiting). Default false. */
  arrived?: boolean;
  /** Safety net so a broken test fails instead of hanging. Default 30 s. */
  timeoutMs?: number;
}

interface ChatState {
  chat: Chat;
  privacy: boolean;
  nextMessageId: number;
  messages: Map<number, Message>;
  deleted: Set<number>;
  members: Map<number, { user: User; status: "creator" | "administrator" | "member" }>;
  topics: Map<number, string>;
  botCanDelete: boolean;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
  ) {
    super(description);
  }
}

const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);

const NUMERIC = new Set(["chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout", "user_id", "duration", "width", "height", "reply_to_message_id", "cache_time"]);
const JSON_VALUED = new Set(["reply_markup", "media", "commands", "scope", "reply_parameters", "entities", "caption_entities", "link_preview_options", "allowed_updates", "message_ids"]);
const BOOLEAN = new Set(["disable_notification", "show_alert", "protect_content", "has_spoiler", "show_caption_above_media", "supports_streaming", "drop_pending_updates"]);

function decodeField(key: string, value: string): unknown {
  if (NUMERIC.has(key) && /^-?\d+$/.test(value)) return Number(value);
  if (BOOLEAN.has(key)) return value === "true";
  if (JSON_VALUED.has(key)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

function randomToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  let secret = "";
  for (let i = 0; i < 35; i++) secret += alphabet[Math.floor(Math.random() * alphabet.length)];
  return `${7_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${secret}`;
}

/** Width and height of a JPEG or PNG, or undefined when it is neither. */
export function imageSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length > 24 && data.readUInt32BE(0) === 0x89504e47) return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < data.length) {
    if (data[i] !== 0xff) return undefined;
    const marker = data[i + 1]!;
    const length = data.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: data.readUInt16BE(i + 5), width: data.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  return undefined;
}

const now = () => performance.timeOrigin + performance.now();

export class BotApiStandIn {
  readonly token: string;
  readonly bot: User & { username: string };
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  readonly #server: http.Server;
  readonly #host: string;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  /** Requests whose headers came and whose body is still being read (not in `requests` yet). */
  readonly #reading = new Set<{ at: number; method: string; bytes: number }>();
  readonly #chats = new Map<number, ChatState>();
  readonly #files = new Map<string, Buffer>();
  readonly #queries = new Map<string, { answered: boolean }>();
  readonly #commands = new Map<string, BotCommand[]>();
  readonly #updates: Update[] = [];
  #nextUpdateId = 1;
  #nextUserId = 1000;
  #nextGroupId = 1;
  #nextFileId = 1;
  #nextQueryId = 1;
  #allowedUpdates: string[] | undefined;
  #poll: { resolve: (updates: Update[] | ApiError) => void; limit: number } | undefined;
  #faults: Fault[] = [];
  #refusing = false;
  readonly #waiters = new Set<{ after: number; arrived: boolean; match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }>();

  private constructor(options: BotApiOptions) {
    this.token = options.token ?? randomToken();
    this.bot = { id: Number(this.token.split(":")[0]), is_bot: true, first_name: "Vigil", username: options.botUsername ?? "vigil_test_bot" };
    this.#host = options.host ?? "127.0.0.1";
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
    });
    this.#server.keepAliveTimeout = 60_000;
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  /** Starts a stand-in on a free port. */
  static async start(options: BotApiOptions = {}): Promise<BotApiStandIn> {
    const api = new BotApiStandIn(options);
    api.#server.listen(0, api.#host);
    await once(api.#server, "listening");
    api.#port = (api.#server.address() as AddressInfo).port;
    return api;
  }

  /** What to give grammY's `apiRoot` (and `VIGIL_TELEGRAM_API_ROOT`). */
  get apiRoot(): string {
    return `http://${this.#host}:${this.#port}`;
  }

  async close(): Promise<void> {
    this.#poll?.resolve([]);
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // --- the world --------------------------------------------------------------

  user(options: { firstName?: string; lastName?: string; username?: string; languageCode?: string } = {}): User {
    const id = this.#nextUserId++;
    return { id, is_bot: false, first_name: options.firstName ?? `User${id}`, ...(options.lastName ? { last_name: options.lastName } : {}), ...(options.username ? { username: options.username } : {}), ...(options.languageCode ? { language_code: options.languageCode } : {}) };
  }

  /** A supergroup (privacy mode on by default, as Telegram's default for bots). */
  group(options: { title?: string; forum?: boolean; privacy?: boolean; owner?: User; botIsAdmin?: boolean } = {}): Chat {
    const id = -1_000_000_000_000 - this.#nextGroupId++;
    const chat = { id, type: "supergroup", title: options.title ?? `Group ${-id}`, ...(options.forum ? { is_forum: true } : {}) } as Chat;
    const state = this.#newChat(chat, options.privacy ?? true);
    state.botCanDelete = options.botIsAdmin ?? false;
    state.members.set(this.bot.id, { user: this.bot, status: state.botCanDelete ? "administrator" : "member" });
    if (options.owner) state.members.set(options.owner.id, { user: options.owner, status: "creator" });
    return chat;
  }

  privateChat(user: User): Chat {
    const existing = this.#chats.get(user.id);
    if (existing) return existing.chat;
    const chat = { id: user.id, type: "private", first_name: user.first_name, ...(user.username ? { username: user.username } : {}) } as Chat;
    const state = this.#newChat(chat, false);
    state.botCanDelete = true; // bots may delete incoming messages in private chats
    state.members.set(user.id, { user, status: "member" });
    return chat;
  }

  /** Creates a forum topic; returns its message_thread_id. */
  topic(chat: Chat, name: string): number {
    const state = this.#chat(chat.id);
    if (!("is_forum" in state.chat) || !state.chat.is_forum) throw new Error("topics exist only in forum supergroups");
    const id = state.nextMessageId++;
    state.topics.set(id, name);
    state.messages.set(id, { message_id: id, date: Math.floor(Date.now() / 1000), chat: state.chat, forum_topic_created: { name, icon_color: 0x6fb9f0 } });
    return id;
  }

  /** Adds a user to a group with a status (members who post are added automatically). */
  join(chat: Chat, user: User, status: "member" | "administrator" = "member"): void {
    this.#chat(chat.id).members.set(user.id, { user, status });
  }

  #newChat(chat: Chat, privacy: boolean): ChatState {
    const state: ChatState = { chat, privacy, nextMessageId: 1, messages: new Map(), deleted: new Set(), members: new Map(), topics: new Map(), botCanDelete: false };
    this.#chats.set(chat.id, state);
    return state;
  }

  #chat(id: unknown): ChatState {
    const state = typeof id === "number" ? this.#chats.get(id) : typeof id === "string" && /^-?\d+$/.test(id) ? this.#chats.get(Number(id)) : undefined;
    if (!state) throw badRequest("chat not found");
    return state;
  }

  // --- playing users ----------------------------------------------------------

  /** A user writes `text` in a chat (commands included: `/arm`, `/arm@vigil_test_bot`). */
  send(from: User, chat: Chat, text: string, options: { threadId?: number; replyTo?: Message | number; mentions?: User[] } = {}): InjectedMessage {
    const state = this.#chat(chat.id);
    if (!state.members.has(from.id)) state.members.set(from.id, { user: from, status: "member" });
    const replyId = typeof options.replyTo === "number" ? options.replyTo : options.replyTo?.message_id;
    const replied = replyId === undefined ? undefined : state.messages.get(replyId);
    const message = {
      message_id: state.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: state.chat,
      from,
      text,
      ...this.#threadFields(state, options.threadId ?? this.#threadOf(replied)),
      ...(replied ? { reply_to_message: { ...replied, reply_to_message: undefined } } : {}),
    } as Message;
    const entities = userEntities(text, options.mentions ?? []);
    if (entities.length) message.entities = entities;
    state.messages.set(message.message_id, message);
    return { message, ...this.#deliver(state, message, "message") };
  }

  /** A user edits one of their messages. */
  edit(from: User, chat: Chat, message: Message, text: string): InjectedMessage {
    const state = this.#chat(chat.id);
    const stored = state.messages.get(message.message_id);
    if (!stored || stored.from?.id !== from.id) throw new Error("users can only edit their own messages");
    const edited = { ...stored, text, edit_date: Math.floor(Date.now() / 1000) } as Message;
    const entities = userEntities(text, []);
    if (entities.length) edited.entities = entities;
    else delete edited.entities;
    state.messages.set(edited.message_id, edited);
    return { message: edited, ...this.#deliver(state, edited, "edited_message") };
  }

  /**
   * A user presses a button of a bot message: by its text (exact, or a RegExp),
   * or `{ data }` to send any callback data (stale or forged).
   */
  press(from: User, message: Message, button: string | RegExp | { data: string }): InjectedPress {
    const state = this.#chat(message.chat.id);
    const current = state.messages.get(message.message_id);
    if (!current || state.deleted.has(message.message_id)) throw new Error(`message ${message.message_id} is not in chat ${message.chat.id}`);
    let data: string;
    if (typeof button === "object" && !(button instanceof RegExp)) {
      data = button.data;
    } else {
      const buttons = inlineButtons(current);
      const found = buttons.find((b) => (typeof button === "string" ? b.text === button : button.test(b.text)));
      if (!found || !("callback_data" in found)) throw new Error(`no button ${String(button)} on message ${message.message_id}; it has: ${buttons.map((b) => JSON.stringify(b.text)).join(", ") || "none"}`);
      data = found.callback_data;
    }
    const queryId = String(this.#nextQueryId++);
    this.#queries.set(queryId, { answered: false });
    const update = this.#push({ callback_query: { id: queryId, from, message: current, chat_instance: String(state.chat.id), data } });
    return { queryId, mark: this.mark(), update };
  }

  #threadOf(message: Message | undefined): number | undefined {
    return message && "is_topic_message" in message && message.is_topic_message ? message.message_thread_id : undefined;
  }

  #threadFields(state: ChatState, threadId: number | undefined): Partial<Message> {
    if (threadId === undefined) return {};
    if ("is_forum" in state.chat && state.chat.is_forum) {
      if (!state.topics.has(threadId)) throw badRequest("message thread not found");
      return { message_thread_id: threadId, is_topic_message: true };
    }
    return { message_thread_id: threadId };
  }

  /** Telegram's privacy mode: in groups, a bot sees commands meant for it, replies to it and mentions of it. */
  #visible(state: ChatState, message: Message): boolean {
    if (state.chat.type === "private" || !state.privacy) return true;
    const text = message.text ?? "";
    const command = /^\/[A-Za-z0-9_]+(?:@([A-Za-z0-9_]+))?/.exec(text);
    if (command) return command[1] === undefined || command[1].toLowerCase() === this.bot.username.toLowerCase();
    if (message.reply_to_message?.from?.id === this.bot.id) return true;
    return text.toLowerCase().includes(`@${this.bot.username.toLowerCase()}`);
  }

  #deliver(state: ChatState, message: Message, kind: "message" | "edited_message"): Injected {
    const mark = this.mark();
    if (!this.#visible(state, message)) return { mark, update: undefined };
    return { mark, update: this.#push({ [kind]: message }) };
  }

  #push(partial: Omit<Update, "update_id">): Update {
    const update = { update_id: this.#nextUpdateId++, ...partial };
    this.#updates.push(update);
    if (this.#poll) {
      const ready = this.#ready(this.#poll.limit);
      if (ready.length) {
        this.#poll.resolve(ready);
        this.#poll = undefined;
      }
    }
    return update;
  }

  #ready(limit: number): Update[] {
    const allowed = this.#allowedUpdates;
    const out: Update[] = [];
    for (const update of this.#updates) {
      if (out.length >= limit) break;
      const kind = Object.keys(update).find((k) => k !== "update_id") ?? "";
      const wanted = allowed === undefined || allowed.length === 0 ? kind !== "chat_member" && kind !== "message_reaction" : allowed.includes(kind);
      if (wanted) out.push(update);
    }
    return out;
  }

  // --- observing ----------------------------------------------------------------

  /** The index the next request will get. */
  mark(): number {
    return this.requests.length;
  }

  /** The first request (at or after `after`) that matches, waiting for it if needed. */
  waitFor(match: (request: RecordedRequest) => boolean, options: WaitOptions = {}): Promise<RecordedRequest> {
    const after = options.after ?? 0;
    const arrived = options.arrived ?? false;
    const found = this.requests.slice(after).find((r) => (arrived || r.status !== undefined) && match(r));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        after,
        arrived,
        match,
        resolve: (r: RecordedRequest) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const recent = this.requests.slice(Math.max(after, this.requests.length - 15)).map((r) => `#${r.index} ${r.method} ${r.status ?? "…"} ${JSON.stringify(r.params).slice(0, 160)}`);
        // A request still being read is not recorded yet: whether the bot sent nothing or is stuck half-way is told apart.
        const reading = [...this.#reading].map((r) => `${r.method} since ${new Date(r.at).toISOString()}, ${r.bytes} bytes of its body so far`);
        const inFlight = `${this.#sockets.size} connection(s) open${reading.length ? `; still being read: ${reading.join("; ")}` : ""}`;
        reject(new Error(`no matching Bot API request within ${options.timeoutMs ?? 30_000} ms after #${after} (${inFlight}); recent:\n${recent.join("\n")}`));
      }, options.timeoutMs ?? 30_000);
      this.#waiters.add(waiter);
    });
  }

  /** The next message the bot successfully sent (or album it sent) to `chat`, as stored. */
  async nextMessage(chat: Chat | number, options: WaitOptions & { threadId?: number; method?: string | string[] } = {}): Promise<Message> {
    const chatId = typeof chat === "number" ? chat : chat.id;
    const methods = options.method === undefined ? SEND_METHODS : new Set(Array.isArray(options.method) ? options.method : [options.method]);
    const request = await this.waitFor((r) => r.ok === true && methods.has(r.method) && Number(r.params.chat_id) === chatId && (options.threadId === undefined || r.params.message_thread_id === options.threadId), options);
    const result = Array.isArray(request.result) ? (request.result as Message[])[0]! : (request.result as Message);
    return this.message(chatId, result.message_id) ?? result;
  }

  /** The answerCallbackQuery request for a press. */
  answerOf(press: InjectedPress, options: WaitOptions = {}): Promise<RecordedRequest> {
    return this.waitFor((r) => r.method === "answerCallbackQuery" && r.params.callback_query_id === press.queryId, { after: press.mark, ...options });
  }

  /** Successful requests of the bot since `after` that changed what a chat shows (sends, edits, deletions). */
  outputs(chat: Chat | number, after = 0): RecordedRequest[] {
    const chatId = typeof chat === "number" ? chat : chat.id;
    return this.requests.slice(after).filter((r) => r.ok === true && OUTPUT_METHODS.has(r.method) && Number(r.params.chat_id) === chatId);
  }

  /** A message in its current state (after edits), or undefined when deleted or unknown. */
  message(chatId: number, messageId: number): Message | undefined {
    const state = this.#chats.get(chatId);
    return state && !state.deleted.has(messageId) ? state.messages.get(messageId) : undefined;
  }

  /** Every message of a chat that is still there, oldest first. */
  messages(chat: Chat | number): Message[] {
    const state = this.#chat(typeof chat === "number" ? chat : chat.id);
    return [...state.messages.values()].filter((m) => !state.deleted.has(m.message_id));
  }

  wasDeleted(chatId: number, messageId: number): boolean {
    return this.#chats.get(chatId)?.deleted.has(messageId) ?? false;
  }

  /** Bytes of an uploaded file by its file_id. */
  file(fileId: string): Buffer | undefined {
    return this.#files.get(fileId);
  }

  /** The bytes of the largest photo (or the video) of a message. */
  media(message: Message): Buffer | undefined {
    const id = message.photo?.[message.photo.length - 1]?.file_id ?? message.video?.file_id ?? message.document?.file_id;
    return id ? this.#files.get(id) : undefined;
  }

  /** Commands set with setMyCommands for a scope (default scope when omitted). */
  commands(scope: Record<string, unknown> = { type: "default" }): BotCommand[] | undefined {
    return this.#commands.get(JSON.stringify(scope));
  }

  // --- faults -----------------------------------------------------------------

  fault(fault: Fault): void {
    this.#faults.push({ ...fault });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Stops listening and drops every connection: clients get ECONNREFUSED, as when Telegram is unreachable. */
  async refuseConnections(): Promise<void> {
    if (this.#refusing) return;
    this.#refusing = true;
    this.#poll?.resolve([]);
    this.#poll = undefined;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Listens again, on the same port. */
  async acceptConnections(): Promise<void> {
    if (!this.#refusing) return;
    this.#server.listen(this.#port, this.#host);
    await once(this.#server, "listening");
    this.#refusing = false;
  }

  #takeFault(method: string): Fault | undefined {
    const index = this.#faults.findIndex((f) => !f.methods || f.methods.includes(method));
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    if (fault.count !== undefined && --fault.count <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  // --- HTTP -------------------------------------------------------------------

  #notify(record: RecordedRequest, arrival: boolean): void {
    for (const waiter of [...this.#waiters]) if (waiter.arrived === arrival && record.index >= waiter.after && waiter.match(record)) waiter.resolve(record);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = now();
    const url = new URL(req.url ?? "/", "http://stand-in");
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const chunks: Buffer[] = [];
    const reading = { at, method: match?.[2] ?? url.pathname, bytes: 0 };
    this.#reading.add(reading);
    try {
      for await (const chunk of req) {
        chunks.push(chunk as Buffer);
        reading.bytes += (chunk as Buffer).length;
      }
    } finally {
      this.#reading.delete(reading);
    }
    const body = Buffer.concat(chunks);
    const record: RecordedRequest = { index: this.requests.length, method: match?.[2] ?? url.pathname, params: {}, files: {}, at, bodyAt: now() };
    this.requests.push(record);
    const answer = (status: number, payload: Record<string, unknown>) => {
      record.status = status;
      record.ok = payload.ok === true;
      record.result = payload.result;
      record.description = typeof payload.description === "string" ? payload.description : undefined;
      if (!res.destroyed) res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
      this.#notify(record, false);
    };
    const fail = (error: ApiError) => answer(error.code, { ok: false, error_code: error.code, description: error.description, ...(error.parameters ? { parameters: error.parameters } : {}) });

    if (!match) return fail(new ApiError(404, "Not Found"));
    if (match[1] !== this.token) return fail(new ApiError(401, "Unauthorized"));
    try {
      record.params = this.#decodeParams(req, url, body, record);
    } catch (error) {
      return fail(badRequest(`can't parse request: ${(error as Error).message}`));
    }
    this.#notify(record, true);

    const fault = this.#takeFault(record.method);
    if (fault) {
      record.fault = fault.kind;
      if (fault.kind === "reset") {
        req.socket.destroy();
        record.status = 0;
        return;
      }
      if (fault.kind === "status") return fail(new ApiError(fault.status, fault.description ?? (fault.status >= 500 ? "Internal Server Error" : "Bad Request")));
      if (fault.kind === "429") return fail(new ApiError(429, `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter }));
      if (!fault.after) await new Promise((r) => setTimeout(r, fault.delayMs));
    }

    let outcome: { result: unknown } | ApiError;
    try {
      outcome = { result: await this.#call(record.method, record.params, record.files, req, res) };
    } catch (error) {
      if (error instanceof ApiError) outcome = error;
      else if (error instanceof HtmlParseError) outcome = new ApiError(400, error.message);
      else throw error;
    }
    if (fault?.kind === "slow" && fault.after) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (outcome instanceof ApiError) return fail(outcome);
    answer(200, { ok: true, result: outcome.result });
  }

  #decodeParams(req: http.IncomingMessage, url: URL, body: Buffer, record: RecordedRequest): Record<string, unknown> {
    const params: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) params[key] = decodeField(key, value);
    const type = req.headers["content-type"] ?? "";
    if (body.length === 0) return params;
    if (type.startsWith("application/json")) return { ...params, ...(JSON.parse(body.toString("utf8")) as Record<string, unknown>) };
    if (type.startsWith("multipart/form-data")) {
      const boundary = multipartBoundary(type);
      if (!boundary) throw new Error("multipart without boundary");
      const parsed = parseMultipart(body, boundary);
      record.files = parsed.files;
      for (const [key, value] of Object.entries(parsed.fields)) params[key] = decodeField(key, value);
      return params;
    }
    if (type.startsWith("application/x-www-form-urlencoded")) {
      for (const [key, value] of new URLSearchParams(body.toString("utf8"))) params[key] = decodeField(key, value);
      return params;
    }
    throw new Error(`unsupported content type ${type}`);
  }

  async #call(method: string, p: Record<string, unknown>, files: Record<string, UploadedFile>, req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    switch (method) {
      case "getMe":
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case "getUpdates":
        return this.#getUpdates(p, req, res);
      case "deleteWebhook":
      case "sendChatAction":
        return true;
      case "getWebhookInfo":
        return { url: "", has_custom_certificate: false, pending_update_count: this.#updates.length };
      case "setMyCommands":
        return this.#setMyCommands(p);
      case "getMyCommands":
        return this.#commands.get(JSON.stringify(p.scope ?? { type: "default" })) ?? [];
      case "deleteMyCommands":
        this.#commands.delete(JSON.stringify(p.scope ?? { type: "default" }));
        return true;
      case "sendMessage": {
        const state = this.#chat(p.chat_id);
        const { text, entities } = this.#formatted(p.text, p.parse_mode, 4096, "message text");
        if (text.length === 0) throw badRequest("message text is empty");
        return this.#store(state, p, { text, ...(entities.length ? { entities } : {}) });
      }
      case "sendPhoto":
      case "sendVideo":
      case "sendDocument": {
        const state = this.#chat(p.chat_id);
        const kind = method === "sendPhoto" ? "photo" : method === "sendVideo" ? "video" : "document";
        const media = this.#media(kind, p[kind], files, p);
        return this.#store(state, p, { ...media, ...this.#caption(p) });
      }
      case "sendMediaGroup": {
        const state = this.#chat(p.chat_id);
        const items = p.media;
        if (!Array.isArray(items) || items.length < 2 || items.length > 10) throw badRequest("wrong number of media in the album: 2 to 10 expected");
        const groupId = String(this.#nextFileId++);
        return (items as Record<string, unknown>[]).map((item) => this.#store(state, p, { ...this.#media(String(item.type) as "photo" | "video", item.media, files, item), ...this.#caption(item), media_group_id: groupId }, { noMarkup: true }));
      }
      case "editMessageText": {
        const { state, message } = this.#editable(p);
        if (message.text === undefined) throw badRequest("there is no text in the message to edit");
        const { text, entities } = this.#formatted(p.text, p.parse_mode, 4096, "message text");
        return this.#edit(state, message, { text, entities: entities.length ? entities : undefined }, p.reply_markup);
      }
      case "editMessageCaption": {
        const { state, message } = this.#editable(p);
        const caption = this.#caption(p);
        return this.#edit(state, message, { caption: caption.caption, caption_entities: caption.caption_entities }, p.reply_markup);
      }
      case "editMessageReplyMarkup": {
        const { state, message } = this.#editable(p);
        return this.#edit(state, message, {}, p.reply_markup);
      }
      case "editMessageMedia": {
        const { state, message } = this.#editable(p);
        const input = p.media as Record<string, unknown> | undefined;
        if (!input || typeof input !== "object") throw badRequest("media is required");
        const media = this.#media(String(input.type) as "photo" | "video", input.media, files, input);
        const caption = this.#caption(input);
        return this.#edit(state, message, { photo: undefined, video: undefined, document: undefined, ...media, caption: caption.caption, caption_entities: caption.caption_entities }, p.reply_markup, true);
      }
      case "deleteMessage": {
        const state = this.#chat(p.chat_id);
        const id = Number(p.message_id);
        const message = state.messages.get(id);
        if (!message || state.deleted.has(id)) throw badRequest("message to delete not found");
        if (message.from?.id !== this.bot.id && !state.botCanDelete) throw badRequest("message can't be deleted");
        state.deleted.add(id);
        return true;
      }
      case "answerCallbackQuery": {
        const query = this.#queries.get(String(p.callback_query_id));
        if (!query || query.answered) throw badRequest("query is too old and response timeout expired or query ID is invalid");
        if (typeof p.text === "string" && p.text.length > 200) throw badRequest("MESSAGE_TOO_LONG");
        query.answered = true;
        return true;
      }
      case "getChat":
        return this.#chat(p.chat_id).chat;
      case "getChatMember": {
        const state = this.#chat(p.chat_id);
        const member = state.members.get(Number(p.user_id));
        if (!member) return { status: "left", user: { id: Number(p.user_id), is_bot: false, first_name: "?" } };
        return this.#member(member.user, member.status);
      }
      case "getChatAdministrators": {
        const state = this.#chat(p.chat_id);
        if (state.chat.type === "private") throw badRequest("there are no administrators in the private chat");
        return [...state.members.values()].filter((m) => m.status !== "member").map((m) => this.#member(m.user, m.status));
      }
      default:
        throw new ApiError(404, "Not Found: method not found");
    }
  }

  #member(user: User, status: "creator" | "administrator" | "member"): ChatMember {
    if (status === "creator") return { status, user, is_anonymous: false };
    if (status === "administrator") return { status, user, can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true, can_manage_video_chats: false, can_restrict_members: true, can_promote_members: false, can_change_info: true, can_invite_users: true, can_post_stories: false, can_edit_stories: false, can_delete_stories: false } as ChatMember;
    return { status, user };
  }

  #getUpdates(p: Record<string, unknown>, req: http.IncomingMessage, res: http.ServerResponse): Promise<Update[]> | Update[] {
    const offset = typeof p.offset === "number" ? p.offset : 0;
    const limit = Math.min(100, Math.max(1, typeof p.limit === "number" ? p.limit : 100));
    const timeout = Math.max(0, typeof p.timeout === "number" ? p.timeout : 0);
    if (Array.isArray(p.allowed_updates)) this.#allowedUpdates = p.allowed_updates as string[];
    if (offset > 0) {
      while (this.#updates.length && this.#updates[0]!.update_id < offset) this.#updates.shift();
    }
    if (this.#poll) {
      this.#poll.resolve(new ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
      this.#poll = undefined;
    }
    const ready = this.#ready(limit);
    if (ready.length || timeout === 0) return ready;
    return new Promise<Update[]>((resolve, reject) => {
      const timer = setTimeout(() => finish([]), timeout * 1000);
      const onClose = () => finish([]);
      const finish = (value: Update[] | ApiError) => {
        clearTimeout(timer);
        res.off("close", onClose);
        if (this.#poll === poll) this.#poll = undefined;
        if (value instanceof ApiError) reject(value);
        else resolve(value);
      };
      const poll = { resolve: finish, limit };
      this.#poll = poll;
      // The client went away (aborted long poll): stop waiting for it.
      res.on("close", onClose);
      void req;
    });
  }

  #setMyCommands(p: Record<string, unknown>): true {
    const commands = p.commands;
    if (!Array.isArray(commands) || commands.length > 100) throw badRequest("commands must be an array of at most 100 commands");
    for (const c of commands as BotCommand[]) {
      if (!/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest("BOT_COMMAND_INVALID");
      if (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 256) throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
    }
    this.#commands.set(JSON.stringify(p.scope ?? { type: "default" }), commands as BotCommand[]);
    return true;
  }

  #formatted(raw: unknown, parseMode: unknown, max: number, what: string): { text: string; entities: MessageEntity[] } {
    const source = typeof raw === "string" ? raw : typeof raw === "number" ? String(raw) : "";
    let out: { text: string; entities: MessageEntity[] };
    if (parseMode === "HTML") out = parseTelegramHtml(source);
    else if (parseMode === undefined || parseMode === "") out = { text: source, entities: [] };
    else throw badRequest(`unsupported parse_mode ${JSON.stringify(parseMode)} in the stand-in`);
    if (out.text.length > max) throw badRequest(`${what} is too long`);
    return out;
  }

  #caption(p: Record<string, unknown>): { caption?: string; caption_entities?: MessageEntity[] } {
    if (p.caption === undefined) return {};
    const { text, entities } = this.#formatted(p.caption, p.parse_mode, 1024, "message caption");
    return { caption: text, ...(entities.length ? { caption_entities: entities } : {}) };
  }

  #media(kind: "photo" | "video" | "document", value: unknown, files: Record<string, UploadedFile>, p: Record<string, unknown>): Partial<Message> {
    let data: Buffer | undefined;
    if (typeof value === "string" && value.startsWith("attach://")) data = files[value.slice("attach://".length)]?.data;
    else if (typeof value === "string") data = this.#files.get(value);
    if (!data) throw badRequest("wrong file identifier/HTTP URL specified");
    const fileId = `file-${this.#nextFileId++}`;
    this.#files.set(fileId, data);
    const base = { file_id: fileId, file_unique_id: `u${fileId}`, file_size: data.length };
    if (kind === "photo") {
      const size = imageSize(data);
      if (!size) throw badRequest("IMAGE_PROCESS_FAILED");
      return { photo: [{ ...base, ...size }] };
    }
    if (kind === "video") return { video: { ...base, width: Number(p.width ?? 0), height: Number(p.height ?? 0), duration: Number(p.duration ?? 0) } };
    return { document: base };
  }

  #markup(raw: unknown): InlineKeyboardMarkup | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== "object") throw badRequest("can't parse reply keyboard markup JSON object");
    const markup = raw as Record<string, unknown>;
    if (!("inline_keyboard" in markup)) return undefined; // force_reply and reply keyboards are not part of the message
    const rows = markup.inline_keyboard;
    if (!Array.isArray(rows) || rows.some((row) => !Array.isArray(row))) throw badRequest("field \"inline_keyboard\" must be an Array of Array");
    for (const button of (rows as InlineKeyboardButton[][]).flat()) {
      if (typeof button.text !== "string" || button.text.length === 0) throw badRequest("text buttons are unallowed in the inline keyboard");
      if ("callback_data" in button && (Buffer.byteLength(button.callback_data) < 1 || Buffer.byteLength(button.callback_data) > 64)) throw badRequest("BUTTON_DATA_INVALID");
    }
    return markup as unknown as InlineKeyboardMarkup;
  }

  #store(state: ChatState, p: Record<string, unknown>, content: Partial<Message>, options: { noMarkup?: boolean } = {}): Message {
    const replyParams = p.reply_parameters as { message_id?: number } | undefined;
    const replyId = replyParams?.message_id ?? (typeof p.reply_to_message_id === "number" ? p.reply_to_message_id : undefined);
    const replied = replyId === undefined ? undefined : state.messages.get(replyId);
    if (replyId !== undefined && (!replied || state.deleted.has(replyId)) && !(replyParams as { allow_sending_without_reply?: boolean } | undefined)?.allow_sending_without_reply) throw badRequest("message to be replied not found");
    const threadId = typeof p.message_thread_id === "number" ? p.message_thread_id : this.#threadOf(replied);
    const markup = options.noMarkup ? undefined : this.#markup(p.reply_markup);
    const message = {
      message_id: state.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: state.chat,
      from: this.bot,
      ...this.#threadFields(state, threadId),
      ...(replied ? { reply_to_message: { ...replied, reply_to_message: undefined } } : {}),
      ...content,
      ...(markup ? { reply_markup: markup } : {}),
    } as Message;
    state.messages.set(message.message_id, message);
    return message;
  }

  #editable(p: Record<string, unknown>): { state: ChatState; message: Message } {
    const state = this.#chat(p.chat_id);
    const message = state.messages.get(Number(p.message_id));
    if (!message || state.deleted.has(Number(p.message_id))) throw badRequest("message to edit not found");
    if (message.from?.id !== this.bot.id) throw badRequest("message can't be edited");
    return { state, message };
  }

  #edit(state: ChatState, message: Message, change: Partial<Message>, rawMarkup: unknown, mediaChanged = false): Message {
    // Like Telegram: an edit without reply_markup removes the inline keyboard.
    const markup = this.#markup(rawMarkup);
    const next = { ...message, ...change };
    for (const key of Object.keys(next) as (keyof Message)[]) if (next[key] === undefined) delete next[key];
    if (markup) next.reply_markup = markup;
    else delete next.reply_markup;
    if (!mediaChanged && JSON.stringify(strip(next)) === JSON.stringify(strip(message))) {
      throw badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
    }
    next.edit_date = Math.floor(Date.now() / 1000);
    state.messages.set(message.message_id, next);
    return next;
  }
}

/** Methods that put something in a chat or change it. */
const SEND_METHODS = new Set(["sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendMediaGroup"]);
const OUTPUT_METHODS = new Set([...SEND_METHODS, "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia", "deleteMessage"]);

function strip(message: Message): Message {
  const { edit_date: _edit, ...rest } = message;
  return rest;
}

/** Every inline button of a message, row by row. */
export function inlineButtons(message: Message): InlineKeyboardButton[] {
  return message.reply_markup?.inline_keyboard.flat() ?? [];
}

/** The entities Telegram's clients attach to what a user types: a leading command, @mentions, picked users. */
function userEntities(text: string, mentions: User[]): MessageEntity[] {
  const entities: MessageEntity[] = [];
  const command = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(text);
  if (command) entities.push({ type: "bot_command", offset: 0, length: command[0].length });
  for (const m of text.matchAll(/(^|\s)(@[A-Za-z0-9_]{5,32})/g)) entities.push({ type: "mention", offset: m.index + m[1]!.length, length: m[2]!.length });
  for (const user of mentions) {
    const index = text.indexOf(user.first_name);
    if (index >= 0) entities.push({ type: "text_mention", offset: index, length: user.first_name.length, user });
  }
  return entities.sort((a, b) => a.offset - b.offset);
}
