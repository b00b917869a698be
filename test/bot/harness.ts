/**
 * Vigil's bot, in-process, with every real part, wired by main's assembleVigil:
 * the encrypted store on real files, the outbox, the real pipeline (ffmpeg,
 * ONNX) and recorder behind createControl, and grammY's real client talking HTTP to the Bot
 * API stand-in. Tests play users
 * through the stand-in and read what they would see.
 */
import path from "node:path";
import type { Chat, Message, User } from "grammy/types";
import type { OwnedControl } from "../../src/app/control.js";
import type { VigilBot } from "../../src/bot/index.js";
import { assembleVigil, type Vigil } from "../../src/main.js";
import { createLogger, silentLogger } from "../../src/log.js";
import type { RecorderHandle } from "../../src/domain/recorder.js";
import { createPipeline, type Pipeline } from "../../src/pipeline/index.js";
import { createRecorder } from "../../src/pipeline/record/index.js";
import { EventHistory } from "../../src/store/event-history.js";
import { createStore, type Store } from "../../src/store/index.js";
import type { Outbox } from "../../src/store/outbox.js";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { createChatDriver, type ChatDriver } from "../support/chat.js";
import { loopbackDiscovery } from "../support/onvif-device.js";
import { until } from "../support/wait.js";
import { tempDir } from "../support/tmp.js";

export const PASSPHRASE = "bot session passphrase";

export interface Harness extends ChatDriver {
  tg: BotApiStandIn;
  dir: string;
  store: Store;
  outbox: Outbox;
  pipeline: Pipeline;
  recorder: RecorderHandle;
  control: OwnedControl;
  bot: VigilBot;
  vigil: Vigil;
  /** The code printed on a first start. */
  claimCode: string;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  tg?: BotApiStandIn;
  /** The multicast group /addcamera searches for cameras (on 127.0.0.1). Default: a fresh one where nothing answers. */
  onvifGroup?: { address: string; port: number };
  /** How long that search listens; 0 switches it off (VIGIL_ONVIF_TIMEOUT=0). Default 2 s. */
  onvifTimeoutMs?: number;
  /** Collects every line Vigil logs (debug and up) here, to check what it wrote. */
  logLines?: string[];
  /** The zone of schedules, quiet hours and the chat's times. Default: the machine's. */
  timeZone?: string;
  /** The control's clock, which schedules follow (a test moves it to a boundary). Default: real time. */
  controlNow?: () => number;
  /** Runs on the new store before Vigil starts (`vigil mqtt set`, `vigil sensor add`, as the CLI would). */
  setup?: (store: Store) => Promise<void>;
  /** MQTT reconnect tuning. */
  mqtt?: { reconnectMs?: number; refusedReconnectMs?: number };
  /** Be a hub that satellites can join (needs MQTT set up in `setup`), as `vigil start` is. */
  satellites?: { silentAfterMs?: number };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tg = options.tg ?? (await BotApiStandIn.start());
  const dir = path.join(await tempDir(), "data");
  const store = await createStore({ dataDir: dir, unlock: { passphrase: PASSPHRASE }, kdfProfile: "interactive", token: tg.token });
  // VIGIL_TEST_LOG=debug shows what Vigil logs while a test runs.
  const lines = options.logLines;
  const logger = lines
    ? createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) }, secrets: () => store.secrets() })
    : process.env.VIGIL_TEST_LOG
      ? createLogger({ level: process.env.VIGIL_TEST_LOG, secrets: () => store.secrets() })
      : silentLogger;
  await options.setup?.(store);
  const pipeline = await createPipeline({ logger });
  const history = await EventHistory.open(store.vault);
  const recorder = createRecorder({ history, retention: { dataDir: dir, limits: () => store.retention() }, logger });
  const printed: string[] = [];
  const vigil = await assembleVigil({ store, pipeline, recorder, discovery: await loopbackDiscovery(options.onvifGroup, options.onvifTimeoutMs), logger, apiRoot: tg.apiRoot, print: (line) => printed.push(line), bot: { pollTimeoutSeconds: 5 }, ...(options.timeZone ? { timeZone: options.timeZone } : {}), ...(options.controlNow ? { controlNow: options.controlNow } : {}), ...(options.mqtt ? { mqtt: options.mqtt } : {}), ...(options.satellites ? { history, ...(options.satellites.silentAfterMs !== undefined ? { satelliteSilentAfterMs: options.satellites.silentAfterMs } : {}) } : {}) });
  const claimCode = /\/claim (\S+)/.exec(printed.join("\n"))?.[1];
  if (!claimCode) throw new Error(`no claim code was printed: ${printed.join(" | ")}`);
  const { control, outbox, bot } = vigil;
  await bot.ready();

  return {
    tg,
    dir,
    store,
    outbox,
    pipeline,
    recorder,
    control,
    bot,
    vigil,
    claimCode,
    ...createChatDriver(tg),
    async stop() {
      await vigil.stop();
      await pipeline.stop();
      await recorder.stop();
      await store.flush();
      if (!options.tg) await tg.close();
    },
  };
}

/** Waits until the outbox has sent everything. */
export async function drained(h: Harness): Promise<void> {
  await until(() => h.outbox.pending().length === 0, 90_000, "the outbox is empty");
  await h.outbox.flush();
}

/** The user claims Vigil with the printed code in `chat` (a forum topic when given). */
export async function claim(h: Harness, user: User, chat: Chat, threadId?: number): Promise<Message> {
  return h.ask(user, chat, `/claim ${h.claimCode}`, threadId === undefined ? {} : { threadId });
}

/**
 * Runs `act` (things the bot must not answer in `chat`), then has an admin ask
 * `/cameras` in the same chat. Updates of one chat are handled in order, so once
 * that is answered everything before it has been handled: the chat must show
 * nothing but that answer.
 */
export async function expectSilence(h: Harness, chat: Chat, admin: User, act: () => unknown, threadId?: number): Promise<void> {
  const mark = h.tg.mark();
  await act();
  const barrier = await h.ask(admin, chat, "/cameras", threadId === undefined ? {} : { threadId });
  const others = h.tg.outputs(chat, mark).filter((r) => (r.result as Message).message_id !== barrier.message_id);
  if (others.length) throw new Error(`the bot answered in ${chat.id}: ${others.map((r) => `${r.method} ${JSON.stringify(r.params).slice(0, 200)}`).join("; ")}`);
}
