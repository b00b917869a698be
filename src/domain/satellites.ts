/**
 * Satellites as the chat sees them: boxes with cameras that the hub (the box
 * with the bot) adopted, or that wait to be adopted. `src/satellite`
 * implements it; the bot's `/satellites` and `/adopt` use it. Nothing here
 * knows about MQTT or Telegram.
 */

export interface SatelliteCameraView {
  /** As the chat names it: `site/camera`. */
  name: string;
  /** From its last heartbeat; undefined when none came yet. */
  state?: "starting" | "online" | "offline" | "stopped" | undefined;
}

export interface SatelliteView {
  id: string;
  site: string;
  /** `waiting`: it announced itself and no admin adopted it yet; its messages are ignored. */
  state: "waiting" | "adopted";
  version?: string | undefined;
  /** Epoch ms of its last authenticated message (adopted), or its announcement (waiting). */
  lastHeardAt?: number | undefined;
  /** Adopted and not heard from for too long: said in the chat like an offline camera. */
  silent: boolean;
  cameras: SatelliteCameraView[];
  /** The detector on that box, from its last heartbeat. */
  detector?: { ok: boolean; model: string; reason?: string | undefined } | undefined;
  /** Events it holds for the hub that the hub has not acked (from its last heartbeat). */
  queued?: number | undefined;
  /** When it was adopted, and by whom. */
  adoptedAt?: number | undefined;
  adoptedBy?: string | undefined;
}

export interface AdoptResult {
  site: string;
  /** Its cameras, once it answered after the adoption; undefined when it did not answer within a few seconds. */
  cameras: string[] | undefined;
}

export interface SatelliteControl {
  /** Adopted satellites first, then those waiting, by site. */
  list(): SatelliteView[];
  /**
   * Adopts the waiting satellite `site` with the one-time code it printed: an
   * InputError in one sentence when none waits under that name or the code does
   * not match. `by` is who adopted it (the chat user's name).
   */
  adopt(site: string, code: string, by: string): Promise<AdoptResult>;
  /** Forgets an adopted satellite: its messages are ignored from now on. Returns its site as written. */
  remove(site: string): Promise<string>;
}
