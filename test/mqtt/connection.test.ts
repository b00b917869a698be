/**
 * Setting MQTT up from the command line, and a broker that wants a password:
 * the password is kept encrypted and never shown, a wrong one is one sentence
 * in the log and in /status (and Vigil keeps running), the right one connects;
 * the last will says `offline` when Vigil's connection dies without a goodbye;
 * and without `vigil mqtt set` Vigil opens no connection at all.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import type { Chat, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, vigil } from "../support/cli.js";
import { startBroker, watch, type Broker } from "../support/mosquitto.js";
import { filesContaining, tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";
import { claim, startHarness } from "../bot/harness.js";

const TOKEN = "7000002:AAF-mqtt-test-token-cccccccccccccccccccccc";
const BROKER_PASSWORD = "Broker-Passw0rd-x7Qz";
let broker: Broker;

beforeAll(async () => {
  broker = await startBroker({ users: { vigil: BROKER_PASSWORD, homeassistant: "ha-pass-123" } });
});
afterAll(async () => {
  await broker?.stop();
});

describe("vigil mqtt set, show and off", () => {
  it("keeps the broker password encrypted, shows it redacted, and refuses a URL with credentials in it", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    const set = await vigil(["mqtt", "set", broker.url, "--username", "vigil", "--password-stdin", "--site", "flat"], env, `${BROKER_PASSWORD}\n`);
    expect(set.stderr).toBe("");
    expect(set.stdout).toContain(`MQTT is set: ${broker.url}, topics under vigil/flat/`);
    const show = await vigil(["mqtt", "show"], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ url: broker.url, username: "vigil", password: "***", site: "flat", discoveryPrefix: "homeassistant" });
    const config = await vigil(["config", "show"], env);
    expect((JSON.parse(config.stdout) as { mqtt: unknown }).mqtt).toMatchObject({ password: "***" });
    for (const output of [set, show, config]) expect(output.stdout + output.stderr).not.toContain(BROKER_PASSWORD);
    expect(await filesContaining(dataDir, BROKER_PASSWORD)).toEqual([]);

    const withCredentials = await vigil(["mqtt", "set", `mqtt://vigil:${BROKER_PASSWORD}@127.0.0.1:1883`], env);
    expect(withCredentials.code).toBe(2);
    expect(withCredentials.stderr.trim().split("\n")).toHaveLength(1);
    expect(withCredentials.stderr).toContain("not inside the URL");
    expect(withCredentials.stderr).not.toContain(BROKER_PASSWORD);
    const badScheme = await vigil(["mqtt", "set", "http://127.0.0.1:1883"], env);
    expect(badScheme.stderr.trim()).toBe("A broker URL starts with mqtt://, mqtts://, ws:// or wss://, not http://.");
    const badSite = await vigil(["mqtt", "set", broker.url, "--site", "a/b"], env);
    expect(badSite.stderr).toContain("--site is 1 to 32 letters");

    // `vigil doctor` tries the broker as Vigil's user (Telegram is refused here at once: no network).
    const doctorEnv = { ...env, VIGIL_TELEGRAM_API_ROOT: "http://127.0.0.1:9" };
    const good = await vigil(["doctor"], doctorEnv);
    expect(good.stdout).toMatch(new RegExp(`mqtt\\s+ok\\s+${broker.url.replace(/[.:/]/g, "\\$&")}: connected, topics under vigil/flat/`));
    expect((await vigil(["mqtt", "set", broker.url, "--username", "vigil", "--password-stdin", "--site", "flat"], env, "not-the-password\n")).code).toBe(0);
    const bad = await vigil(["doctor"], doctorEnv);
    expect(bad.stdout).toMatch(/mqtt\s+FAIL\s+mqtt:\/\/127\.0\.0\.1:\d+: the broker refused the login/);
    expect(bad.stdout + bad.stderr).not.toContain("not-the-password");

    const off = await vigil(["mqtt", "off"], env);
    expect(off.stdout).toContain("MQTT is off");
    expect((await vigil(["mqtt", "show"], env)).stdout).toContain("MQTT is off");
  }, 60_000);
});

describe("a broker with users", () => {
  it("refuses a wrong password: one sentence in the log and in /status, Vigil keeps running; the password is in no log line", async () => {
    const logLines: string[] = [];
    const h = await startHarness({ logLines, mqtt: { reconnectMs: 200, refusedReconnectMs: 500 }, setup: (store) => store.setMqtt({ url: broker.url, username: "vigil", password: "wrong-password-42", site: "home", discoveryPrefix: "homeassistant" }) });
    try {
      const alice: User = h.tg.user({ firstName: "Alice" });
      const group: Chat = h.tg.group({ title: "Home", owner: alice });
      await claim(h, alice, group);
      await until(() => h.vigil.mqtt?.status().state === "down", 20_000, "the login refused");
      const status = await h.ask(alice, group, "/status");
      expect(status.text).toMatch(/MQTT: not connected to mqtt:\/\/127\.0\.0\.1:\d+ since (\w{3} )?\d\d:\d\d \(the broker refused the login: (wrong username or password|not authorised)\); retrying by itself\./);
      // Several attempts were refused (500 ms apart); the log says it once.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(logLines.filter((l) => l.includes("refused the login"))).toHaveLength(1);
      expect(logLines.join("\n")).not.toContain("wrong-password-42");
      expect((await h.ask(alice, group, "/arm")).text).toContain("Armed");
    } finally {
      await h.stop();
    }
  }, 120_000);

  it("connects with the right password", async () => {
    const ha = await watch(broker.url, ["vigil/#"], { username: "homeassistant", password: "ha-pass-123" });
    const h = await startHarness({ setup: (store) => store.setMqtt({ url: broker.url, username: "vigil", password: BROKER_PASSWORD, site: "home", discoveryPrefix: "homeassistant" }) });
    try {
      await until(() => ha.last("vigil/home/availability") === "online", 20_000, "online");
    } finally {
      await h.stop();
      await ha.close();
    }
  }, 120_000);

  it("has a last will: a Vigil killed without a goodbye leaves `offline` retained", async () => {
    const ha = await watch(broker.url, ["vigil/will/availability"], { username: "homeassistant", password: "ha-pass-123" });
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test", "mqtt", "fixtures", "will-client.ts"), broker.url, "vigil"], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
    child.stdin.end(BROKER_PASSWORD);
    try {
      await until(() => ha.last("vigil/will/availability") === "online", 30_000, "online");
      child.kill("SIGKILL");
      await until(() => ha.last("vigil/will/availability") === "offline", 30_000, "the will");
      const later = await watch(broker.url, ["vigil/will/availability"], { username: "homeassistant", password: "ha-pass-123" });
      await until(() => later.last("vigil/will/availability") === "offline", 10_000, "the will retained");
      await later.close();
    } finally {
      child.kill("SIGKILL");
      await ha.close();
    }
  }, 60_000);
});

describe("mqtts://", () => {
  it("connects to a TLS broker with its CA given, and says in one sentence that a certificate it cannot check is not trusted", async () => {
    const tls = await startBroker({ tls: true });
    try {
      const trusted = await startHarness({ setup: (store) => store.setMqtt({ url: tls.url, site: "home", discoveryPrefix: "homeassistant", caFile: tls.caFile }) });
      try {
        await until(() => trusted.vigil.mqtt?.status().state === "connected", 20_000, "connected over TLS");
      } finally {
        await trusted.stop();
      }
      const logLines: string[] = [];
      const untrusted = await startHarness({ logLines, mqtt: { reconnectMs: 200 }, setup: (store) => store.setMqtt({ url: tls.url, site: "home", discoveryPrefix: "homeassistant" }) });
      try {
        await until(() => untrusted.vigil.mqtt?.status().state === "down", 20_000, "refused");
        expect(untrusted.vigil.mqtt?.status().reason).toMatch(/^the broker's TLS certificate is not trusted \(\w+\); give its CA with --ca-file$/);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(logLines.filter((l) => l.includes("TLS certificate is not trusted"))).toHaveLength(1);
      } finally {
        await untrusted.stop();
      }
      // A CA file removed since `vigil mqtt set`: Vigil starts all the same and says why it cannot connect.
      const gone = await startHarness({ setup: (store) => store.setMqtt({ url: tls.url, site: "home", discoveryPrefix: "homeassistant", caFile: "/nonexistent/ca.pem" }) });
      try {
        expect(gone.vigil.mqtt?.status()).toMatchObject({ state: "down", reason: "the CA file /nonexistent/ca.pem cannot be read (ENOENT); run `vigil mqtt set` again with --ca-file" });
      } finally {
        await gone.stop();
      }
    } finally {
      await tls.stop();
    }
  }, 120_000);
});

describe("without vigil mqtt set", () => {
  it("opens no connection to any broker", async () => {
    const h = await startHarness();
    try {
      expect(h.store.mqtt()).toBeUndefined();
      expect(h.vigil.mqtt).toBeUndefined();
      const alice: User = h.tg.user({ firstName: "Alice" });
      const group: Chat = h.tg.group({ title: "Home", owner: alice });
      await claim(h, alice, group);
      expect((await h.ask(alice, group, "/status")).text).not.toContain("MQTT");
    } finally {
      await h.stop();
    }
  }, 120_000);
});
