/**
 * A door contact on a Raspberry Pi's GPIO, through a stand-in for libgpiod
 * 1.6's `gpiomon` and `gpioget` (test/sensors/fixtures/bin: same arguments,
 * same output) put first on PATH: the line toggled reaches the chat, a
 * killed gpiomon is started again, a missing one is one sentence.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.js";
import { superviseGpio } from "../../src/sensors/gpio.js";
import { ROOT } from "../support/cli.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";
import { claim, startHarness, type Harness } from "../bot/harness.js";

const BIN = path.join(ROOT, "test", "sensors", "fixtures", "bin");
let h: Harness;
let alice: User;
let group: Chat;
let lines: string;
const logLines: string[] = [];
const savedPath = process.env.PATH;

const setLine = (offset: number, level: 0 | 1) => fs.writeFile(path.join(lines, "gpiochip0", String(offset)), `${level}\n`);
const sensor = (name: string) => h.vigil.sensors.states().find((s) => s.sensor.name === name)!;

beforeAll(async () => {
  lines = await tempDir("vigil-gpio-");
  await fs.mkdir(path.join(lines, "gpiochip0"));
  await setLine(17, 0); // the door is closed: its reed switch pulls the line low
  await setLine(27, 1); // a normally-open contact, read with --active-low: closed
  process.env.PATH = `${BIN}${path.delimiter}${savedPath}`;
  process.env.GPIO_STANDIN_DIR = lines;
  h = await startHarness({
    logLines,
    setup: async (store) => {
      await store.addSensor({ name: "front_door", source: { type: "gpio", chip: "gpiochip0", line: 17, activeLow: false } });
      await store.addSensor({ name: "cellar", source: { type: "gpio", chip: "gpiochip0", line: 27, activeLow: true } });
    },
  });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice });
  await claim(h, alice, group);
  await h.control.arm();
}, 120_000);
afterAll(async () => {
  await h?.stop();
  process.env.PATH = savedPath;
  delete process.env.GPIO_STANDIN_DIR;
});

describe("GPIO door contacts through gpiomon", () => {
  it("reads the state at start with gpioget, then every edge: a line that goes high is a door that opened", async () => {
    await until(() => sensor("front_door").open === false && sensor("cellar").open === false, 15_000, "the states at start");
    const mark = h.tg.mark();
    await setLine(17, 1);
    const message = await h.tg.nextMessage(group, { after: mark, timeoutMs: 10_000 });
    expect(message.text).toMatch(/^Front door opened · (\w{3} )?\d\d:\d\d:\d\d$/);
    await setLine(17, 0);
    await until(() => sensor("front_door").open === false, 10_000, "closed again");
  });

  it("with --active-low, a line that goes low is the opening", async () => {
    const mark = h.tg.mark();
    await setLine(27, 0);
    const message = await h.tg.nextMessage(group, { after: mark, timeoutMs: 10_000 });
    expect(message.text).toMatch(/^Cellar opened/);
    await setLine(27, 1);
    await until(() => sensor("cellar").open === false, 10_000, "closed again");
  });

  it("a gpiomon that dies is started again, and the door is still watched", async () => {
    const pid = Number(await fs.readFile(path.join(lines, "gpiochip0", "gpiomon.pid"), "utf8").catch(() => "0"));
    expect(pid).toBeGreaterThan(0);
    // Two are running (one per sensor); whichever wrote last dies.
    process.kill(pid, "SIGKILL");
    await until(() => logLines.some((l) => l.includes("gpiomon stopped reading")), 10_000, "the death noticed");
    await until(async () => Number(await fs.readFile(path.join(lines, "gpiochip0", "gpiomon.pid"), "utf8").catch(() => "0")) !== pid, 10_000, "a new gpiomon");
    const mark = h.tg.mark();
    await setLine(17, 1);
    await setLine(27, 0);
    const alerts = () => h.tg.outputs(group, mark).map((r) => (typeof r.params.text === "string" ? r.params.text.replace(/<[^>]+>/g, "") : "")).filter((t) => t.includes(" opened"));
    await until(() => alerts().length >= 2, 10_000, "both doors in the chat");
    expect(alerts().map((t) => t.split(" opened")[0]).sort()).toEqual(["Cellar", "Front door"]);
    await setLine(17, 0);
    await setLine(27, 1);
  }, 30_000);

  it("without gpiomon installed: one sentence in the log, no crash", async () => {
    const seen: string[] = [];
    const logger = createLogger({ level: "info", destination: { write: (line: string) => void seen.push(line) } });
    const stop = new AbortController();
    const running = superviseGpio({ sensor: { id: "x", name: "shed", kind: "door", source: { type: "gpio", chip: "gpiochip0", line: 4, activeLow: false }, cameras: [], debounceMs: 300, mutedUntil: null, modes: ["home", "away", "night"] }, reading: () => undefined, logger, signal: stop.signal, gpiomon: "/nonexistent/gpiomon", gpioget: "/nonexistent/gpioget" });
    await until(() => seen.some((l) => l.includes("gpiomon is not installed")), 10_000, "the sentence");
    stop.abort();
    await running;
    expect(seen.filter((l) => l.includes("gpiomon is not installed"))).toHaveLength(1);
    expect(seen.find((l) => l.includes("gpiomon is not installed"))).toContain("sudo apt-get install gpiod");
  });
});
