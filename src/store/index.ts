/** The store's public surface: open, create, maintain. */
import { Store } from "./store.js";
import { recoverInterruptedRekey } from "./maintenance.js";
import { createVault, openVault, type CreateVaultOptions, type Unlock } from "./vault.js";

export { Store, type Admin, type Chat, type NewCamera, type Retention, type StoreChange } from "./store.js";
export { BlobStore } from "./blob-store.js";
export { EncryptedDocument, type DocumentSpec } from "./document.js";
export { acquireLock, lockHealth, previousCrash, StoreLockedError } from "./lock.js";
export { rekey, restoreFromBackups, recoverInterruptedRekey } from "./maintenance.js";
export { createKeyFile, storeExists, unlockMethod, type Unlock, type Vault } from "./vault.js";
export { KDF_PROFILES, type KdfProfile } from "./crypto.js";

/** Opens the store in `dataDir`, finishing an interrupted rekey first. */
export async function openStore(dataDir: string, unlock: Unlock): Promise<Store> {
  await recoverInterruptedRekey(dataDir);
  return Store.open(await openVault(dataDir, unlock));
}

/** Creates a new store holding `token`. */
export async function createStore(options: CreateVaultOptions & { token: string }): Promise<Store> {
  return Store.open(await createVault(options), options.token);
}
