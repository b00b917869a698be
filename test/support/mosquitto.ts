/**
 * A real MQTT broker for tests: Debian's Mosquitto 2.0 (`mosquitto -c FILE`)
 * on a free port of 127.0.0.1, anonymous or with a password file made by
 * `mosquitto_passwd`. A test can kill it (SIGKILL: clients see the socket die,
 * no goodbye) and start it again on the same port, to check reconnects. It
 * keeps nothing between starts (`persistence false`), like a broker that
 * restarted after a crash: retained messages must be published again.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { findProgram } from "../../src/system-deps.js";
import { tempDir } from "./tmp.js";
import { until } from "./wait.js";

const run = promisify(execFile);

export interface BrokerOptions {
  /** Users and passwords; anonymous clients are then refused. Default: anonymous only. */
  users?: Record<string, string>;
  /** Serve MQTT over TLS (mqtts://) with a certificate for 127.0.0.1 signed by a CA made for the test (its PEM file: `caFile`). */
  tls?: boolean;
  /** Where its configuration goes. Default: a temporary folder removed after the test file (a benchmark, outside vitest, gives its own). */
  dir?: string;
}

export interface Broker {
  port: number;
  url: string;
  /** With `tls`: the CA certificate that signed the broker's. */
  caFile?: string;
  /** SIGKILL: no will is delivered by a dead broker, the connections just end. */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What the broker wrote (its log goes to stderr). */
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const mosquitto = findProgram("mosquitto", process.env);
  if (!mosquitto) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const dir = options.dir ?? (await tempDir("vigil-mqtt-"));
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`, "persistence false", "log_dest stderr", "log_type error", "log_type warning", "log_type notice", "log_type information"];
  // As root, Mosquitto drops to the `mosquitto` user, which cannot read a private temp folder.
  if (process.getuid?.() === 0) lines.push("user root");
  if (options.users) {
    const passwd = findProgram("mosquitto_passwd", process.env) ?? "mosquitto_passwd";
    const file = path.join(dir, "passwords");
    for (const [user, password] of Object.entries(options.users)) {
      const exists = await fs.stat(file).then(() => true, () => false);
      await run(passwd, [...(exists ? [] : ["-c"]), "-b", file, user, password]);
    }
    lines.push("allow_anonymous false", `password_file ${file}`);
  } else lines.push("allow_anonymous true");
  let caFile: string | undefined;
  if (options.tls) {
    caFile = path.join(dir, "ca.crt");
    const ssl = (args: string[]) => run("openssl", args, { cwd: dir });
    await ssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Vigil test CA"]);
    await ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    await fs.writeFile(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    await ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]);
    lines.push(`cafile ${caFile}`, `certfile ${path.join(dir, "server.crt")}`, `keyfile ${path.join(dir, "server.key")}`);
  }
  const conf = path.join(dir, "mosquitto.conf");
  await fs.writeFile(conf, `${lines.join("\n")}\n`);
  let child: ChildProcess | undefined;
  let output = "";

  const start = async () => {
    const proc = spawn(mosquitto, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    proc.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
    });
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${output.slice(-500)}`);
      return accepts(port);
    }, 10_000, "mosquitto to listen");
  };
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
  };
  await start();
  return { port, url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`, ...(caFile ? { caFile } : {}), kill, start, stop: kill, log: () => output };
}

/** A test's own MQTT client (Home Assistant's side, or a Zigbee2MQTT): records every message it receives. */
export interface Watcher {
  client: MqttClient;
  messages: { topic: string; payload: Buffer; retain: boolean }[];
  /** The last payload on `topic`, as text. */
  last(topic: string): string | undefined;
  lastBuffer(topic: string): Buffer | undefined;
  publish(topic: string, payload: string | Buffer, options?: { retain?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function watch(url: string, topics: string[], options: { username?: string; password?: string } = {}): Promise<Watcher> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...options });
  const messages: Watcher["messages"] = [];
  client.on("message", (topic, payload, packet) => messages.push({ topic, payload, retain: packet.retain }));
  client.on("connect", () => void client.subscribeAsync(topics).catch(() => undefined));
  if (topics.length) await client.subscribeAsync(topics);
  const lastOf = (topic: string) => messages.findLast((m) => m.topic === topic)?.payload;
  return {
    client,
    messages,
    last: (topic) => lastOf(topic)?.toString(),
    lastBuffer: lastOf,
    async publish(topic, payload, publishOptions = {}) {
      await client.publishAsync(topic, payload, { qos: 1, retain: publishOptions.retain ?? false });
    },
    close: () => client.endAsync(true),
  };
}
