/** Where the key to the store comes from: VIGIL_KEY_FILE, VIGIL_PASSPHRASE, or a prompt on a terminal. */
import type { Env } from "../env.js";
import { ConfigError } from "../errors.js";
import { openStore, unlockMethod, type Store, type Unlock } from "../store/index.js";
import { ask, isInteractive } from "./prompt.js";

export async function resolveUnlock(env: Env): Promise<Unlock> {
  if (env.keyFile) return { keyFile: env.keyFile };
  if (env.passphrase !== undefined) return { passphrase: env.passphrase };
  const method = await unlockMethod(env.dataDir);
  if (method === "passphrase" && isInteractive()) return { passphrase: await ask("Passphrase for the Vigil store", { hidden: true }) };
  throw new ConfigError(
    method === "passphrase" ? `The store in ${env.dataDir} is locked with a passphrase: set VIGIL_PASSPHRASE.` : `The store in ${env.dataDir} is locked with a key file: set VIGIL_KEY_FILE to its path.`,
    method === "passphrase" ? "VIGIL_PASSPHRASE" : "VIGIL_KEY_FILE",
  );
}

export async function openStoreFromEnv(env: Env): Promise<Store> {
  return openStore(env.dataDir, await resolveUnlock(env));
}
