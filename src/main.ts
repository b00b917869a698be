/**
 * The one place that wires Vigil together: store, pipeline, bot. Everything else
 * receives what it needs as arguments.
 */
import type { Env } from "./env.js";
import type { Logger } from "./log.js";
import { acquireLock, type Store } from "./store/index.js";

export interface RunOptions {
  env: Env;
  store: Store;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: everything shuts down cleanly. */
  signal: AbortSignal;
  /** Where user-facing lines go (the claim code). Default stdout. */
  print?: (line: string) => void;
}

/** Runs Vigil until `signal` aborts. */
export async function runVigil(options: RunOptions): Promise<void> {
  const { env, store, logger, signal } = options;
  const release = await acquireLock(env.dataDir);
  try {
    logger.info({ cameras: store.cameras().length, armed: store.isArmed() }, "Vigil started");
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
  } finally {
    await store.flush();
    await release();
    logger.info("Vigil stopped");
  }
}
