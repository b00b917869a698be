/**
 * Named errors. Each one carries a sentence a user can act on (`message`), the
 * typed facts a program needs, and the underlying `cause` for the log. Messages
 * never contain secrets: URLs are masked before they reach a constructor.
 */
export class VigilError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration or environment is invalid; `field` names what to fix. */
export class ConfigError extends VigilError {
  constructor(
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The passphrase or key file does not open this store. Nothing was changed. */
export class DecryptError extends VigilError {
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A store file is damaged (truncated, bit-flipped, not a Vigil file). `backup` is the
 * previous generation and `restoreCommand` the command that puts it back.
 */
export class CorruptStoreError extends VigilError {
  constructor(
    message: string,
    readonly file: string,
    readonly backup: string | undefined,
    readonly restoreCommand: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** There is no store yet in the data directory. */
export class NoStoreError extends VigilError {
  constructor(readonly dataDir: string) {
    super(`There is no Vigil store in ${dataDir} yet: run \`vigil init\` first.`);
  }
}

/** The store exists and `init` was asked to create one without `--force`. */
export class StoreExistsError extends VigilError {
  constructor(readonly dataDir: string) {
    super(`A Vigil store already exists in ${dataDir}; use --force to replace it (its data will be lost).`);
  }
}

/** A camera could not be opened. `url` is already masked. */
export class CameraConnectError extends VigilError {
  constructor(
    message: string,
    readonly camera: string,
    readonly url: string,
    readonly reason: "refused" | "unauthorized" | "not-found" | "busy" | "timeout" | "unreachable" | "invalid" | "unknown",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A camera that answers, but in a way Vigil's own RTSP client does not read (H.265,
 * a login scheme other than Basic and Digest MD5, no H.264 video track): the
 * camera is read through ffmpeg's RTSP input instead. `url` is already masked.
 */
export class UnsupportedCameraError extends VigilError {
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * An ONVIF camera or the search for one failed. `address` is the camera's host
 * (or the interface the search used); `reason` says what kind of failure it was,
 * so a front end can offer the right way on (another login, a URL typed by hand).
 */
export class OnvifError extends VigilError {
  constructor(
    message: string,
    readonly address: string,
    readonly reason: "unauthorized" | "unreachable" | "timeout" | "invalid" | "too-large" | "no-streams" | "fault" | "network",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A satellite box did not do what the hub asked: it is silent, it did not
 * answer in time, or it answered with a refusal (`message` is its sentence).
 * `site` names the satellite.
 */
export class SatelliteError extends VigilError {
  constructor(
    message: string,
    readonly site: string,
    readonly reason: "silent" | "timeout" | "refused" | "unknown" | "not-connected",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The detector model is missing, corrupt or failed to run. */
export class ModelError extends VigilError {}

/** A value a user typed is not acceptable; `message` says what is. */
export class InputError extends VigilError {}

/** Turns anything thrown into the one sentence we may show a user. */
export function userMessage(error: unknown): string {
  if (error instanceof VigilError) return error.message;
  return "Something went wrong inside Vigil; the details are in the log.";
}
