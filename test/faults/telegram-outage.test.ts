/**
 * Telegram unreachable while alerts happen, with `vigil start` as a process and
 * real alerts from a real camera (a person walks in once per loop of the
 * footage): first connections are refused, and Vigil is killed with SIGKILL
 * and started again in the middle of it; then Telegram answers 500s; then 429
 * with retry_after. Afterwards every alert in Vigil's event history is in the
 * chat exactly once, each camera's in order (folded messages list each one
 * with its time and object), and the restart notice counts what was queued.
 */
import path from "node:path";
import type { Message } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_FOLDED } from "../../src/bot/alert-view.js";
import { BotApiStandIn } from "../support/bot-api/index.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { tempDir } from "../support/tmp.js";
import { sleepUntil, until } from "../support/wait.js";
import { claimAndArm, killAllVigils, listEvents, startVigil, vigil, type ListedEvent } from "../support/cli.js";

/** The person enters wallflower_wavingtrees at 24.2 s of each loop and leaves 2 s later: each camera alerts once in the next second. */
const ENTRY_SECONDS = 24.2;
const QUIET_AFTER_ENTRY_MS = 8000;

interface Alert {
  camera: string;
  /** HH:MM:SS, as the chat shows it and `vigil events list` prints it. */
  time: string;
  label: string;
}

const key = (a: Alert) => `${a.camera} ${a.time} ${a.label}`;

/** Every alert a chat message accounts for: its own, then each one folded into it. */
function alertsIn(text: string): Alert[] {
  const [first = "", ...rest] = text.split("\n");
  // Around midnight a time from the day before carries its weekday (`Fri 23:59:58`).
  const head = /^(\S+) on (\S+) · (?:\d+% · )?(?:\w{3} )?(\d\d:\d\d:\d\d)(?: · (?:home|away|night))?$/.exec(first);
  if (!head) return [];
  const camera = head[2]!;
  const out: Alert[] = [{ camera, time: head[3]!, label: head[1]!.toLowerCase() }];
  const folded = rest.map((line) => /^\+(\d+) more on (\S+): (.*)$/.exec(line)).find(Boolean);
  if (folded) {
    const items = folded[3]!.split(", ").map((item) => /^(?:\w{3} )?(\d\d:\d\d:\d\d) (.+)$/.exec(item)!);
    expect(items, text).toHaveLength(Number(folded[1]));
    for (const item of items) out.push({ camera, time: item[1]!, label: item[2]! });
  }
  return out;
}

let tg: BotApiStandIn;
let rtsp: RtspTestServer;
let env: Record<string, string>;
beforeAll(async () => {
  tg = await BotApiStandIn.start();
  rtsp = await startRtspServer({ mounts: [{ name: "yard", clip: footage("wallflower_wavingtrees_10fps.mp4") }] });
  env = { VIGIL_DATA_DIR: path.join(await tempDir(), "data"), VIGIL_PASSPHRASE: "outage passphrase", VIGIL_TELEGRAM_API_ROOT: tg.apiRoot, VIGIL_LOG_LEVEL: "info" };
  expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], { ...env, VIGIL_BOT_TOKEN: tg.token })).code).toBe(0);
  // Two cameras on the same stream, so their alerts interleave.
  for (const name of ["front", "back"]) expect((await vigil(["camera", "add", name, rtsp.url("yard")], env)).code).toBe(0);
});
afterAll(async () => {
  killAllVigils();
  await rtsp?.close();
  await tg?.close();
});

/** Every alert in Vigil's event history, from the CLI, as the chat would show it. */
const history = (): Promise<ListedEvent[]> => listEvents(env, "1h");

describe("Telegram unreachable while alerts happen", () => {
  it("refused (with a SIGKILL and restart), then 500s, then 429: every alert delivered after recovery, in order, none twice", async () => {
    const first = startVigil(env);
    const { alice, group } = await claimAndArm(tg, first.output);
    // Each camera alerts once per visit: the two visits Telegram misses leave two alerts of each camera to fold.
    const messages = () => tg.outputs(group).filter((r) => r.method === "sendPhoto" || r.method === "sendMessage").map((r) => r.result as Message);
    const inChat = () => messages().flatMap((m) => alertsIn(m.caption ?? m.text ?? ""));
    const delivered = async () => {
      const expected = (await history()).map(key).sort();
      return expected.length > 0 && JSON.stringify(inChat().map(key).sort()) === JSON.stringify(expected);
    };
    const entries = () => rtsp.frameTimes("yard", ENTRY_SECONDS);
    const quietAfter = (t: number) => entries().find((e) => e > t)! + QUIET_AFTER_ENTRY_MS;

    // A person walks in while Telegram works: delivered.
    await sleepUntil(quietAfter(Date.now()));
    await until(delivered, 60_000, "the first alerts are in the chat");

    // Telegram goes away. The person walks in again; Vigil is killed before it can send, and started again.
    await tg.refuseConnections();
    const refusedAt = Date.now();
    await sleepUntil(quietAfter(Date.now()));
    first.child.kill("SIGKILL");
    await first.exited;
    const killedAt = Date.now();
    const second = startVigil(env);
    await sleepUntil(entries().find((e) => e > Date.now())! - 10_000);

    // Telegram answers again, with 500s, while the person walks in once more; then 429s.
    tg.fault({ kind: "status", status: 500 });
    await tg.acceptConnections();
    await sleepUntil(quietAfter(Date.now()));
    tg.clearFaults();
    tg.fault({ kind: "429", retryAfter: 3, methods: ["sendPhoto", "sendMessage"], count: 3 });
    // Its answer may come after, or between, alerts of the backlog: wait for it, not for the next message.
    const disarm = tg.send(alice, group, "/disarm");
    const disarmed = await tg.waitFor((r) => r.ok === true && r.method === "sendMessage" && Number(r.params.chat_id) === group.id && String(r.params.text).startsWith("Disarmed"), { after: disarm.mark, timeoutMs: 90_000 });
    expect(disarmed.params.text).toBe("Disarmed: no alerts until /arm.");
    // Alerts that came after the restart may be folded into messages ahead of the restart notice, which is
    // queued behind the backlog: it can be the last message, so it is awaited too.
    const noticeSent = () => messages().some((m) => m.text?.startsWith("Vigil restarted"));
    await until(async () => (await delivered()) && noticeSent(), 180_000, "every alert of the history and the restart notice are in the chat");

    const all = await history();
    const queued = all.filter((a) => {
      return a.at >= refusedAt && a.at < killedAt;
    });
    expect(queued.length).toBeGreaterThan(0);
    // In order: each camera's alerts read in message order are in time order.
    for (const camera of ["front", "back"]) {
      const times = inChat().filter((a) => a.camera === camera).map((a) => a.time);
      expect(times).toEqual([...times].sort());
    }
    // Folded into messages of at most 1 + MAX_FOLDED alerts; the outage made some.
    const sizes = messages().map((m) => alertsIn(m.caption ?? m.text ?? "").length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1 + MAX_FOLDED);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    // The restart notice counts the alerts that were waiting when Vigil died, and comes after them.
    const notices = messages().filter((m) => m.text?.startsWith("Vigil restarted"));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.text).toMatch(new RegExp(`^Vigil restarted after a crash at (\\w{3} )?\\d\\d:\\d\\d; ${queued.length} alerts? (was|were) queued and (has|have) been sent\\.$`));
    const lastQueued = Math.max(...messages().filter((m) => alertsIn(m.caption ?? "").some((a) => queued.some((q) => key(q) === key(a)))).map((m) => m.message_id));
    expect(notices[0]!.message_id).toBeGreaterThan(lastQueued);
    expect(tg.requests.some((r) => r.fault === "429")).toBe(true);
    expect(tg.requests.some((r) => r.fault === "status")).toBe(true);

    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    for (const run of [first, second]) expect(run.output()).not.toContain(tg.token.split(":")[1]!);
  });
});
