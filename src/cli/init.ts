/** `vigil init`: create the encrypted store, interactively on a terminal or from the environment. */
import path from "node:path";
import type { Env } from "../env.js";
import { ConfigError, StoreExistsError } from "../errors.js";
import { createKeyFile, createStore, storeExists, type KdfProfile, type Store, type Unlock } from "../store/index.js";
import { ask, askNewPassphrase, askValid } from "./prompt.js";

/** The shape of a bot token from @BotFather: `<bot id>:<secret>`. */
const TOKEN_PATTERN = /^\d{4,12}:[A-Za-z0-9_-]{30,60}$/;

export function tokenProblem(token: string): string | undefined {
  if (!token) return "The bot token is empty: get one from @BotFather (it looks like 123456789:AAE...).";
  if (!TOKEN_PATTERN.test(token)) return "That does not look like a bot token from @BotFather (it looks like 123456789:AAE..., with no spaces).";
  return undefined;
}

export interface InitOptions {
  nonInteractive: boolean;
  force: boolean;
  kdf: KdfProfile;
  /** `--key-file`: use (and create if needed) a key file instead of a passphrase. */
  keyFile?: string | undefined;
  log: (line: string) => void;
}

export async function runInit(env: Env, options: InitOptions): Promise<Store> {
  if (!options.force && (await storeExists(env.dataDir))) throw new StoreExistsError(env.dataDir);
  let token: string;
  let unlock: Unlock;
  let dataDir = env.dataDir;
  if (options.nonInteractive) {
    token = env.botToken ?? "";
    const problem = tokenProblem(token);
    if (problem) throw new ConfigError(env.botToken ? `VIGIL_BOT_TOKEN: ${problem}` : "Set VIGIL_BOT_TOKEN to the token @BotFather gave you.", "VIGIL_BOT_TOKEN");
    const keyFile = options.keyFile ?? env.keyFile;
    if (keyFile) {
      await createKeyFile(keyFile);
      unlock = { keyFile };
    } else if (env.passphrase !== undefined) unlock = { passphrase: env.passphrase };
    else throw new ConfigError("Set VIGIL_PASSPHRASE (8 characters or more) or VIGIL_KEY_FILE to protect the store.", "VIGIL_PASSPHRASE");
  } else {
    options.log("Vigil setup. Everything you enter is stored encrypted on this machine only.\n");
    token = env.botToken && !tokenProblem(env.botToken) ? env.botToken : await askValid("Bot token from @BotFather", tokenProblem, { hidden: true });
    const keyFileAnswer = options.keyFile ?? env.keyFile;
    const method = keyFileAnswer ? "2" : await askValid("Protect the store with (1) a passphrase or (2) a key file", (a) => (a === "1" || a === "2" ? undefined : "Answer 1 or 2."), { default: "1" });
    if (method === "2") {
      const keyFile = path.resolve(keyFileAnswer ?? (await ask("Key file (created if missing; keep it off the SD card for best protection)", { default: path.join(path.dirname(env.dataDir), "vigil.key") })));
      await createKeyFile(keyFile);
      unlock = { keyFile };
    } else {
      unlock = { passphrase: env.passphrase ?? (await askNewPassphrase()) };
    }
    dataDir = path.resolve(await ask("Data directory", { default: env.dataDir }));
  }
  const store = await createStore({ dataDir, unlock, kdfProfile: options.kdf, token, force: options.force });
  options.log(`Created an encrypted store in ${dataDir} (${"keyFile" in unlock ? `key file ${unlock.keyFile}` : "passphrase"}).`);
  if (dataDir !== env.dataDir) options.log(`Set VIGIL_DATA_DIR=${dataDir} whenever you run vigil, so it finds this store.`);
  return store;
}
