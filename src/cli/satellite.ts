/**
 * `vigil satellite join URL --site NAME`: makes this box a satellite of a hub
 * that meets it on the MQTT broker at URL. It keeps its cameras, pipeline and
 * recorder, runs no bot, and prints the line an admin sends in the chat to
 * adopt it (a one-time code). `vigil satellite show` and `leave`.
 */
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { validateSiteName } from "../domain/camera.js";
import type { Env } from "../env.js";
import { ConfigError, InputError } from "../errors.js";
import { parseMqttSettings } from "../mqtt/settings.js";
import { peekSatelliteLink, SatelliteLinkState } from "../satellite/link-state.js";
import { adoptLine } from "../satellite/satellite-link.js";
import { newJoinCode, newSalt } from "../satellite/sealing.js";
import { acquireLock, createKeyFile, createStore, openStore, storeExists, type Store, type Unlock } from "../store/index.js";
import { ask, askNewPassphrase, isInteractive } from "./prompt.js";
import { resolveUnlock } from "./unlock.js";

interface SatelliteCliDeps {
  env: () => Env;
  out: (line: string) => void;
  readStdin: () => Promise<string>;
}

/** The store of a new satellite: no bot token (it never runs the bot). */
async function newSatelliteStore(env: Env, out: (line: string) => void): Promise<Store> {
  let unlock: Unlock;
  if (env.keyFile) {
    await createKeyFile(env.keyFile);
    unlock = { keyFile: env.keyFile };
  } else if (env.passphrase !== undefined) unlock = { passphrase: env.passphrase };
  else if (isInteractive()) unlock = { passphrase: await askNewPassphrase() };
  else throw new ConfigError("Set VIGIL_PASSPHRASE (8 characters or more) or VIGIL_KEY_FILE to protect this box's store.", "VIGIL_PASSPHRASE");
  const store = await createStore({ dataDir: env.dataDir, unlock, token: "", kdfProfile: "moderate" });
  out(`Created an encrypted store in ${env.dataDir}.`);
  return store;
}

export function registerSatelliteCommand(cli: Command, deps: SatelliteCliDeps): void {
  const satellite = cli.command("satellite").description("make this box a satellite: cameras here, alerts in the hub's Telegram group, over MQTT");

  satellite
    .command("join <url>")
    .description("become a satellite of the hub on this MQTT broker (mqtt://HOST:1883); prints the /adopt line to send in the chat")
    .requiredOption("--site <name>", "this box's name in the chat: its cameras are <name>/<camera>")
    .option("--username <user>", "the broker username")
    .option("--password-stdin", "read the broker password from standard input")
    .option("--ca-file <path>", "the CA certificate of an mqtts:// broker")
    .action(async (url: string, opts: { site: string; username?: string; passwordStdin?: boolean; caFile?: string }) => {
      const env = deps.env();
      const site = validateSiteName(opts.site);
      const password = opts.passwordStdin ? (isInteractive() ? await ask("Broker password", { hidden: true }) : await deps.readStdin()) : undefined;
      const broker = parseMqttSettings({ url, username: opts.username, password, site, caFile: opts.caFile });
      const store = (await storeExists(env.dataDir)) ? await openStore(env.dataDir, await resolveUnlock(env)) : await newSatelliteStore(env, deps.out);
      const release = await acquireLock(env.dataDir);
      let code: string;
      try {
        if (store.admins().length > 0 || store.chats().length > 0) throw new InputError("This box runs the bot (it has an alert chat): it is a hub, not a satellite. A satellite is another box, with a store of its own (`vigil satellite join` there).");
        const id = store.satellite()?.id ?? randomBytes(6).toString("hex");
        code = await newJoinCode();
        await store.setSatellite({ url: broker.url, ...(broker.username !== undefined ? { username: broker.username } : {}), ...(broker.password ? { password: broker.password } : {}), ...(broker.caFile ? { caFile: broker.caFile } : {}), site, id });
        const state = await SatelliteLinkState.open(store.vault, { fresh: { code, salt: await newSalt(), now: Date.now() } });
        await state.flush();
        await store.flush();
      } finally {
        await release();
      }
      deps.out(`This box is now the satellite ${site}, meeting its hub on ${broker.url}. Start it with \`vigil start\`; then, in the hub's Telegram group:`);
      deps.out(adoptLine(site, code));
      deps.out("The code works once. Running `vigil satellite join` again makes a new one (and the hub must adopt the box again).");
    });

  satellite
    .command("show")
    .description("whether this box is a satellite, its broker and site, and whether a hub adopted it")
    .action(async () => {
      const env = deps.env();
      const store = await openStore(env.dataDir, await resolveUnlock(env));
      const config = store.satellite();
      if (!config) {
        deps.out("This box is not a satellite (it runs the bot itself, or will). `vigil satellite join URL --site NAME` makes it one.");
        return;
      }
      const link = await peekSatelliteLink(store.vault);
      deps.out(JSON.stringify({ site: config.site, id: config.id, broker: config.url, username: config.username, password: config.password ? "***" : undefined, adopted: link?.adopted !== undefined, hub: link?.adopted?.hub, adoptedAt: link?.adopted ? new Date(link.adopted.at).toISOString() : undefined, waitingForHub: link?.queued ?? 0 }, null, 2));
      if (!link?.adopted && link?.code) deps.out(adoptLine(config.site, link.code));
    });

  satellite
    .command("leave")
    .description("stop being a satellite: the box keeps its cameras and store, and no longer talks to a hub")
    .action(async () => {
      const env = deps.env();
      if (!(await storeExists(env.dataDir))) throw new InputError(`There is no Vigil store in ${env.dataDir}; this box is not a satellite.`);
      const store = await openStore(env.dataDir, await resolveUnlock(env));
      const release = await acquireLock(env.dataDir);
      try {
        const config = store.satellite();
        if (!config) throw new InputError("This box is not a satellite.");
        await store.setSatellite(null);
        await store.flush();
        deps.out(`This box is no longer the satellite ${config.site}. On the hub, /satellites remove ${config.site} forgets it.`);
        if (!store.token()) deps.out("To run it on its own with a bot of its own, give it a token first: `vigil config set-token`.");
      } finally {
        await release();
      }
    });
}
