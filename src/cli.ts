/**
 * The `vigil` command. Parses the environment once, then dispatches. Any failure
 * ends as one sentence on stderr and a non-zero exit; the detail goes to the log
 * at debug level, with secrets scrubbed.
 */
import { Command, Option } from "commander";
import { formatTable } from "./cli/table.js";
import { eventsCommand } from "./cli/events.js";
import { runInit, tokenProblem } from "./cli/init.js";
import { progressBar } from "./cli/progress.js";
import { registerReplayCommand } from "./cli/replay.js";
import { registerSatelliteCommand } from "./cli/satellite.js";
import { parseScanTimeout, runCameraScan } from "./cli/scan.js";
import { ask, askNewPassphrase, askValid, isInteractive } from "./cli/prompt.js";
import { openStoreFromEnv, resolveUnlock } from "./cli/unlock.js";
import { runDoctor } from "./doctor.js";
import { parseCameraModes } from "./domain/modes.js";
import { parsePicamUrl, parseStreamUrl } from "./domain/stream-url.js";
import { parseEnv, type Env } from "./env.js";
import { ConfigError, InputError, NoStoreError, userMessage, VigilError } from "./errors.js";
import { createLogger, type Logger } from "./log.js";
import { runVigil } from "./main.js";
import { createOnvifDiscovery, DEFAULT_DISCOVERY_TIMEOUT_MS, parseMulticastTarget } from "./onvif/index.js";
import { ensureModel, findModel, readManifest } from "./models.js";
import { acquireLock, createKeyFile, KDF_PROFILES, lockHealth, rekey, restoreFromBackups, storeExists, type KdfProfile, type Store, type Unlock } from "./store/index.js";
import { ensureSystemPackages, runtimeNeeds } from "./system-deps.js";
import { parseMqttSettings } from "./mqtt/settings.js";
import { randomBytes } from "node:crypto";
import { parseGpioLine, validateSensorTopic, type SensorSource } from "./domain/sensors.js";
import { parseListenAddress } from "./sensors/webhook.js";

/** How a sensor's source reads in a table. Never the webhook secret. */
function describeSource(source: SensorSource): string {
  switch (source.type) {
    case "mqtt":
      return source.format === "zigbee2mqtt" ? `MQTT ${source.topic} (Zigbee2MQTT)` : `MQTT ${source.topic}, ${source.field ?? "payload"} = ${source.openValue ?? "true"} is open`;
    case "webhook":
      return "webhook";
    case "gpio":
      return `GPIO ${source.chip}:${source.line}${source.activeLow ? ", active low" : ""}`;
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

let env: Env;
let logger: Logger;

function kdfOption(): Option {
  return new Option("--kdf <profile>", "Argon2id cost for a passphrase").choices(Object.keys(KDF_PROFILES)).default("moderate");
}

async function fetchModels(names: string[], all: boolean): Promise<void> {
  const manifest = await readManifest();
  const entries = all ? manifest.models : (names.length ? names : [manifest.default]).map((n) => findModel(manifest, n));
  for (const entry of entries) {
    const bar = progressBar(`${entry.name}`, { unit: "bytes" });
    try {
      const result = await ensureModel(entry, { modelsDir: env.modelsDir, mirror: env.modelsMirror, onProgress: (d, t) => bar.update(d, t) });
      bar.stop();
      err(`${entry.name}: ${result.source === "present" ? "already installed" : `installed from the ${result.source === "mirror" ? "local mirror" : "upstream URL"}`}, checksum verified (${result.path}).`);
    } finally {
      bar.stop();
    }
  }
}

/**
 * Runs `fn` holding the data directory's lock: a running Vigil keeps the store in
 * memory and would overwrite a change made beside it, so edits from the command
 * line refuse while it runs (StoreLockedError says so in one sentence).
 */
async function withStoreLock<T>(fn: () => Promise<T>): Promise<T> {
  if (!(await storeExists(env.dataDir))) throw new NoStoreError(env.dataDir);
  const release = await acquireLock(env.dataDir);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function program(): Command {
  const cli = new Command("vigil")
    .description("Private home security: IP cameras, on-box detection, a Telegram group as the whole UI.")
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cli
    .command("init")
    .description("create the encrypted store (asks on a terminal; --non-interactive reads VIGIL_BOT_TOKEN and VIGIL_PASSPHRASE or VIGIL_KEY_FILE)")
    .option("--non-interactive", "read everything from the environment")
    .option("--force", "replace an existing store (its data is lost)")
    .option("--key-file <path>", "unlock with this key file (created, mode 0600, if missing) instead of a passphrase")
    .addOption(kdfOption())
    .action(async (opts: { nonInteractive?: boolean; force?: boolean; keyFile?: string; kdf: KdfProfile }) => {
      await runInit(env, { nonInteractive: Boolean(opts.nonInteractive) || !isInteractive(), force: Boolean(opts.force), keyFile: opts.keyFile, kdf: opts.kdf, log: out });
      out("Next: start Vigil with `npm start` (or `vigil start`) and send the /claim code it prints in your Telegram group.");
    });

  cli
    .command("start")
    .description("run the bot and the camera pipeline")
    .option("--stats-file <path>", "write the pipeline's live figures (frames, frame ages, detector) to this file every second")
    .action(async (opts: { statsFile?: string }) => {
      await ensureSystemPackages(runtimeNeeds(env.ffmpegPath), { who: "Vigil needs", env: process.env, log: (line) => logger.warn(line) });
      let created: Store | undefined;
      if (!(await storeExists(env.dataDir))) {
        // First start: set up from the environment when it has everything (Docker, systemd), else ask on a terminal.
        const fromEnv = env.botToken !== undefined && (env.passphrase !== undefined || env.keyFile !== undefined);
        if (!fromEnv && !isInteractive()) {
          throw new ConfigError(`There is no Vigil store in ${env.dataDir} yet: set VIGIL_BOT_TOKEN and VIGIL_PASSPHRASE (or VIGIL_KEY_FILE), or run \`vigil init\` on a terminal.`);
        }
        created = await runInit(env, { nonInteractive: fromEnv, force: false, kdf: "moderate", log: out });
      }
      await fetchModels([], false);
      // The store init just created is already open: asking for the passphrase a third time
      // (after the new one and its confirmation) would only annoy. It may be in another data
      // directory than VIGIL_DATA_DIR (init asks), and this run uses that one.
      const store = created ?? (await openStoreFromEnv(env));
      const runEnv = created ? { ...env, dataDir: created.vault.dataDir } : env;
      logger = createLogger({ level: env.logLevel, secrets: () => store.secrets() });
      const controller = new AbortController();
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, "shutting down");
        controller.abort();
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      await runVigil({ env: runEnv, store, logger, signal: controller.signal, print: out, statsFile: opts.statsFile });
    });

  const config = cli.command("config").description("inspect and maintain the store");
  config
    .command("show")
    .description("print the configuration with every secret redacted")
    .action(async () => {
      const store = await openStoreFromEnv(env);
      out(JSON.stringify(store.redactedView(), null, 2));
    });
  config
    .command("rekey")
    .description("re-encrypt everything under a new passphrase (VIGIL_NEW_PASSPHRASE or a prompt) or a new key file")
    .option("--new-key-file <path>", "switch to this key file (created if missing)")
    .addOption(kdfOption())
    .action(async (opts: { newKeyFile?: string; kdf: KdfProfile }) => {
      const from = await resolveUnlock(env);
      let to: Unlock;
      if (opts.newKeyFile) {
        await createKeyFile(opts.newKeyFile);
        to = { keyFile: opts.newKeyFile };
      } else if (env.newPassphrase !== undefined) to = { passphrase: env.newPassphrase };
      else if (isInteractive()) to = { passphrase: await askNewPassphrase() };
      else throw new ConfigError("Give the new passphrase in VIGIL_NEW_PASSPHRASE, or use --new-key-file.", "VIGIL_NEW_PASSPHRASE");
      const bar = progressBar("Re-encrypting");
      const { files } = await withStoreLock(() => rekey({ dataDir: env.dataDir, from, to, kdfProfile: opts.kdf, onProgress: (d, t) => bar.update(d, t) }));
      bar.stop();
      out(`Re-encrypted ${files} file(s) under a new key; the old ${"passphrase" in from ? "passphrase" : "key file"} no longer opens the store.`);
    });
  config
    .command("set-token")
    .description("replace the bot token (after revoking a leaked one with @BotFather); reads VIGIL_BOT_TOKEN or asks")
    .action(async () => {
      const token = env.botToken ?? (isInteractive() ? await askValid("New bot token from @BotFather", tokenProblem, { hidden: true }) : "");
      const problem = tokenProblem(token);
      if (problem) throw new ConfigError(env.botToken ? `VIGIL_BOT_TOKEN: ${problem}` : "Set VIGIL_BOT_TOKEN to the new token from @BotFather.", "VIGIL_BOT_TOKEN");
      await withStoreLock(async () => (await openStoreFromEnv(env)).setToken(token));
      out(`The bot token is replaced (bot ${token.split(":")[0]}); restart Vigil to use it.`);
    });
  config
    .command("restore")
    .description("put back the previous version of every damaged store file")
    .action(async () => {
      const unlock = await resolveUnlock(env);
      const report = await withStoreLock(() => restoreFromBackups(env.dataDir, unlock));
      if (report.restored.length === 0 && report.unrecoverable.length === 0) out("Nothing is damaged; nothing was changed.");
      for (const name of report.restored) out(`Restored ${name} from its previous version (the damaged file is kept as ${name}.damaged).`);
      for (const name of report.unrecoverable) err(`${name} and its backup are both damaged; it cannot be restored.`);
      if (report.unrecoverable.length) process.exitCode = 1;
    });

  const camera = cli.command("camera").description("manage cameras from this machine (the chat's /addcamera does the same)");
  camera
    .command("add <name> <url>")
    .description("add a camera; local files, /dev/video devices and the Raspberry Pi camera (picam:0) are allowed here, not from the chat")
    .option("--username <user>", "camera username")
    .option("--password-stdin", "read the camera password from standard input")
    .option("--record-url <url>", "main stream for clips")
    .option("--snapshot-url <url>", "high-resolution JPEG URL")
    .action(async (name: string, url: string, opts: { username?: string; passwordStdin?: boolean; recordUrl?: string; snapshotUrl?: string }) => {
      const parsed = parseStreamUrl(url, { allowLocal: true });
      const recordUrl = opts.recordUrl ? parseStreamUrl(opts.recordUrl, { allowLocal: true }) : undefined;
      // One rpicam-vid gives the Pi camera's detection and clips: a second stream of it could never open.
      if (parsed.kind === "picam" && recordUrl) throw new InputError("The Pi camera gives detection and clips from one stream; leave out --record-url and set its size and rate in the URL (picam:0?width=1920&height=1080&fps=15).");
      if (recordUrl?.kind === "picam") throw new InputError(`Add the Pi camera with its own URL (vigil camera add <name> ${recordUrl.url}), not as --record-url.`);
      const password = opts.passwordStdin ? (isInteractive() ? await ask("Camera password", { hidden: true }) : await readStdin()) : parsed.password;
      const added = await withStoreLock(async () => {
        const store = await openStoreFromEnv(env);
        if (parsed.kind === "picam") {
          const { camera: index } = parsePicamUrl(parsed.url);
          const taken = store.cameras().find((c) => c.url.startsWith("picam:") && parsePicamUrl(c.url).camera === index);
          if (taken) throw new InputError(`picam:${index} is already the camera ${taken.name}; remove it first (vigil camera remove ${taken.name}) to add it again.`);
        }
        return store.addCamera({
          name,
          url: parsed.url,
          username: opts.username ?? parsed.username,
          password,
          recordUrl: recordUrl?.url,
          snapshotUrl: opts.snapshotUrl ? parseStreamUrl(opts.snapshotUrl).url : undefined,
        });
      });
      out(`Added camera ${added.name} (${added.url}).`);
    });
  camera
    .command("scan")
    .description("look for ONVIF cameras on the LAN; with a login, print their main and sub stream URLs and the `camera add` line")
    .option("--interface <address>", "search from this IPv4 address of this machine (default: every network interface but loopback)")
    .option("--multicast <group:port>", "the search's multicast group and port (default 239.255.255.250:3702)")
    .option("--timeout <seconds>", "how long to listen for cameras (default VIGIL_ONVIF_TIMEOUT, or 3)")
    .option("--username <user>", "camera username, to read each camera's streams")
    .option("--password-stdin", "read the camera password from standard input")
    .action(async (opts: { interface?: string; multicast?: string; timeout?: string; username?: string; passwordStdin?: boolean }) => {
      if (opts.passwordStdin && !opts.username) throw new InputError("Give --username with --password-stdin.");
      // VIGIL_ONVIF_TIMEOUT=0 switches off the search in /addcamera, not the one asked for here.
      const timeoutMs = opts.timeout !== undefined ? parseScanTimeout(opts.timeout) : env.onvif.timeoutMs || DEFAULT_DISCOVERY_TIMEOUT_MS;
      const discovery = createOnvifDiscovery({
        interfaceAddress: opts.interface ?? env.onvif.interfaceAddress,
        multicast: opts.multicast ? parseMulticastTarget(opts.multicast) : env.onvif.multicast,
        timeoutMs,
      });
      const password = opts.passwordStdin ? (isInteractive() ? await ask("Camera password", { hidden: true }) : await readStdin()) : undefined;
      err(`Looking for ONVIF cameras for ${timeoutMs / 1000} s…`);
      process.exitCode = await runCameraScan(discovery, opts.username ? { username: opts.username, password } : undefined, { out, note: err });
    });
  camera
    .command("list")
    .description("list cameras")
    .action(async () => {
      const store = await openStoreFromEnv(env);
      out(formatTable(["name", "url", "armed", "modes", "settings"], store.cameras().map((c) => [c.name, c.url, c.armed ? "yes" : "no", c.settings.modes.join(","), `sensitivity ${c.settings.sensitivity}, ${c.settings.classes.join("+")}, ${c.settings.fps} fps`])));
    });
  camera
    .command("remove <name>")
    .description("remove a camera")
    .action(async (name: string) => {
      const removed = await withStoreLock(async () => (await openStoreFromEnv(env)).removeCamera(name));
      out(`Removed camera ${removed.name}.`);
    });

  const mqttCli = cli.command("mqtt").description("the MQTT broker Vigil publishes to and takes commands from (Home Assistant)");
  mqttCli
    .command("set <url>")
    .description("connect to this broker (mqtt://HOST:1883, mqtts://HOST:8883); the password is read from standard input and kept encrypted")
    .option("--username <user>", "the broker username")
    .option("--password-stdin", "read the broker password from standard input")
    .option("--site <name>", "topics go under vigil/<site>/ (default home)")
    .option("--discovery-prefix <prefix>", "Home Assistant's discovery prefix (default homeassistant)")
    .option("--ca-file <path>", "the CA certificate of an mqtts:// broker (default: the system's CAs)")
    .option("--presence-topic <topic>", "a topic with Home Assistant presence (home / not_home): when everyone leaves the mode becomes away, when someone comes home, home")
    .action(async (url: string, opts: { username?: string; passwordStdin?: boolean; site?: string; discoveryPrefix?: string; caFile?: string; presenceTopic?: string }) => {
      const password = opts.passwordStdin ? (isInteractive() ? await ask("Broker password", { hidden: true }) : await readStdin()) : undefined;
      const settings = parseMqttSettings({ url, username: opts.username, password, site: opts.site, discoveryPrefix: opts.discoveryPrefix, caFile: opts.caFile, presenceTopic: opts.presenceTopic });
      await withStoreLock(async () => (await openStoreFromEnv(env)).setMqtt(settings));
      out(`MQTT is set: ${settings.url}, topics under vigil/${settings.site}/, Home Assistant discovery under ${settings.discoveryPrefix}/. Start Vigil (or restart it) to connect.`);
    });
  mqttCli
    .command("show")
    .description("the MQTT settings, password redacted")
    .action(async () => {
      const settings = (await openStoreFromEnv(env)).mqtt();
      if (!settings) {
        out("MQTT is off (set it up with `vigil mqtt set URL`).");
        return;
      }
      out(JSON.stringify({ ...settings, password: settings.password ? "***" : undefined, topics: `vigil/${settings.site}/` }, null, 2));
    });
  mqttCli
    .command("off")
    .description("stop using MQTT (the settings and password are deleted)")
    .action(async () => {
      await withStoreLock(async () => (await openStoreFromEnv(env)).setMqtt(null));
      out("MQTT is off; Vigil will not connect to a broker.");
    });

  const sensorCli = cli.command("sensor").description("door and window sensors: from MQTT (Zigbee2MQTT or any topic), signed webhooks, or a Raspberry Pi's GPIO");
  sensorCli
    .command("add <name>")
    .description("add a door or window sensor; give one source: --mqtt TOPIC, --webhook or --gpio CHIP:LINE")
    .option("--mqtt <topic>", "an MQTT topic: Zigbee2MQTT's zigbee2mqtt/<device> (contact: false is open), or any topic with --field and --open-value")
    .option("--field <name>", "the JSON field that says open or closed (without it, the whole payload)")
    .option("--open-value <value>", "the value that means open (default true)")
    .option("--webhook", "signed HTTP POSTs to the webhook listener (vigil webhook listen); prints the sensor's secret once")
    .option("--gpio <chip:line>", "a GPIO line read with gpiomon, e.g. gpiochip0:17 (high is open)")
    .option("--active-low", "for --gpio: low is open")
    .option("--window", "a window, not a door (how Home Assistant shows it)")
    .option("--debounce <ms>", "how long a new state must hold before it counts (default 300)")
    .option("--modes <list>", "the modes it alerts in, e.g. away,night (default home,away,night)")
    .action(async (name: string, opts: { mqtt?: string; field?: string; openValue?: string; webhook?: boolean; gpio?: string; activeLow?: boolean; window?: boolean; debounce?: string; modes?: string }) => {
      const modes = opts.modes === undefined ? undefined : parseCameraModes(opts.modes, "sensor");
      const sources = [opts.mqtt !== undefined, Boolean(opts.webhook), opts.gpio !== undefined].filter(Boolean).length;
      if (sources !== 1) throw new InputError("Give exactly one source: --mqtt TOPIC, --webhook or --gpio CHIP:LINE.");
      if ((opts.field !== undefined || opts.openValue !== undefined) && opts.mqtt === undefined) throw new InputError("--field and --open-value go with --mqtt.");
      if (opts.activeLow && opts.gpio === undefined) throw new InputError("--active-low goes with --gpio.");
      const debounceMs = opts.debounce === undefined ? undefined : /^\d{1,5}$/.test(opts.debounce) ? Number(opts.debounce) : Number.NaN;
      let source: SensorSource;
      let secret: string | undefined;
      if (opts.mqtt !== undefined) {
        const topic = validateSensorTopic(opts.mqtt);
        const generic = opts.field !== undefined || opts.openValue !== undefined;
        source = generic ? { type: "mqtt", topic, format: "field", ...(opts.field !== undefined ? { field: opts.field } : {}), openValue: opts.openValue ?? "true" } : { type: "mqtt", topic, format: "zigbee2mqtt" };
      } else if (opts.webhook) {
        secret = randomBytes(32).toString("hex");
        source = { type: "webhook", secret };
      } else {
        const { chip, line } = parseGpioLine(opts.gpio!);
        source = { type: "gpio", chip, line, activeLow: Boolean(opts.activeLow) };
      }
      const added = await withStoreLock(async () => (await openStoreFromEnv(env)).addSensor({ name, kind: opts.window ? "window" : "door", source, ...(debounceMs !== undefined ? { debounceMs } : {}), ...(modes ? { modes } : {}) }));
      out(`Added ${added.kind} sensor ${added.name} (${describeSource(added.source)}, debounce ${added.debounceMs} ms, alerts in ${added.modes.join(", ")}).`);
      if (secret) {
        out(`Its webhook secret (shown only now; the sender signs with it): ${secret}`);
        out(`POST /sensor/${added.name} with X-Vigil-Timestamp and X-Vigil-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>"); see the README.`);
      }
      out(`Link cameras to it with \`vigil sensor link ${added.name} CAMERA...\`.`);
    });
  sensorCli
    .command("list")
    .description("the sensors, their source and linked cameras")
    .action(async () => {
      const store = await openStoreFromEnv(env);
      const cameraName = (id: string) => store.cameras().find((c) => c.id === id)?.name ?? "?";
      out(formatTable(["name", "kind", "source", "cameras", "alerts in", "debounce"], store.sensors().map((s) => [s.name, s.kind, describeSource(s.source), s.cameras.map(cameraName).join(", ") || "-", s.modes.join(", "), `${s.debounceMs} ms`])));
    });
  sensorCli
    .command("remove <name>")
    .description("remove a sensor")
    .action(async (name: string) => {
      const removed = await withStoreLock(async () => (await openStoreFromEnv(env)).removeSensor(name));
      out(`Removed sensor ${removed.name}.`);
    });
  sensorCli
    .command("modes <name> <modes>")
    .description("the modes a sensor alerts in, e.g. away,night (an inside door), or all (home, away and night)")
    .action(async (name: string, list: string) => {
      const modes = parseCameraModes(list, "sensor");
      const sensor = await withStoreLock(async () => (await openStoreFromEnv(env)).setSensorModes(name, modes));
      out(`${sensor.name} alerts in ${sensor.modes.join(", ")}.`);
    });
  sensorCli
    .command("link <name> [cameras...]")
    .description("the cameras whose pictures come with the sensor's alert (and whose `afterdoor` it opens); none: unlink all")
    .action(async (name: string, cameras: string[]) => {
      const linked = await withStoreLock(async () => {
        const s = await openStoreFromEnv(env);
        const sensor = await s.linkSensor(name, cameras);
        return { sensor, names: sensor.cameras.map((id) => s.cameras().find((c) => c.id === id)?.name ?? id) };
      });
      out(linked.names.length ? `${linked.sensor.name} is linked to ${linked.names.join(", ")}.` : `${linked.sensor.name} is linked to no camera.`);
    });

  const webhookCli = cli.command("webhook").description("the LAN listener for signed webhook sensors (off by default)");
  webhookCli
    .command("listen <address:port>")
    .description("listen on this address and port, e.g. 192.168.1.10:8089 (0.0.0.0 for every address)")
    .action(async (address: string) => {
      const listen = parseListenAddress(address);
      if (!listen) throw new InputError(`Give the address and port to listen on, like 192.168.1.10:8089; "${address.slice(0, 40)}" is not one.`);
      await withStoreLock(async () => (await openStoreFromEnv(env)).setWebhook(listen));
      out(`The webhook listener will listen on ${listen.host}:${listen.port} when Vigil starts.`);
    });
  webhookCli
    .command("off")
    .description("no webhook listener")
    .action(async () => {
      await withStoreLock(async () => (await openStoreFromEnv(env)).setWebhook(null));
      out("The webhook listener is off.");
    });

  cli
    .command("health")
    .description("exit 0 when a running Vigil is alive on this data directory (for Docker's HEALTHCHECK)")
    .action(async () => {
      const { healthy, reason } = await lockHealth(env.dataDir);
      (healthy ? out : err)(reason);
      if (!healthy) process.exitCode = 1;
    });

  cli
    .command("doctor")
    .description("check ffmpeg, the decoder, the model, the store, Telegram, each camera and free disk")
    .action(async () => {
      const checks = await runDoctor(env, () => openStoreFromEnv(env));
      out(formatTable(["check", "result", "detail", "fix"], checks.map((c) => [c.name, c.ok ? "ok" : c.warning ? "WARN" : "FAIL", c.detail, c.ok ? "" : (c.fix ?? "")])));
      if (checks.some((c) => !c.ok && !c.warning)) process.exitCode = 1;
    });

  cli.addCommand(eventsCommand(() => env));

  const models = cli.command("models").description("detector weights");
  models
    .command("fetch [names...]")
    .description("install the default detector (or the named ones) from the mirror or upstream, verifying checksums")
    .option("--all", "every model in the manifest")
    .action(async (names: string[], opts: { all?: boolean }) => fetchModels(names, Boolean(opts.all)));

  registerReplayCommand(cli, () => ({ env, logger }));
  registerSatelliteCommand(cli, { env: () => env, out, readStdin });

  return cli;
}

async function main(): Promise<void> {
  try {
    env = parseEnv(process.env);
  } catch (error) {
    err(userMessage(error));
    process.exit(2);
  }
  logger = createLogger({ level: env.logLevel });
  try {
    await program().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof VigilError) err(userMessage(error));
    else err(`Vigil failed: ${userMessage(error)}`);
    logger.debug({ err: error }, "command failed");
    process.exitCode = error instanceof ConfigError || error instanceof NoStoreError ? 2 : 1;
  }
}

await main();
