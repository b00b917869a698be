/**
 * The alarm logic of doors: every debounced change goes to the event history;
 * a door that opens in one of its modes (not muted, and not in the exit delay
 * after someone armed on the way out) alerts at once, with a picture
 * from each linked camera (taken in parallel, each given at most
 * `snapshotTimeoutMs`: a camera that is offline must not hold the alert up).
 * A door that stays open is said once: only a change alerts (see doorAlerts).
 */
import type { Control } from "../domain/control.js";
import type { StoredDoorEvent } from "../domain/recorder.js";
import type { DoorAlert, DoorEvent, Sensor } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import { doorAlerts } from "./door-rules.js";

export interface DoorAlarmOptions {
  control: Pick<Control, "mode" | "snapshot" | "cameras">;
  sensors: () => readonly Sensor[];
  /** Puts the alert in the outbox. */
  alert: (alert: DoorAlert) => Promise<void>;
  record: (event: StoredDoorEvent) => void;
  /** The alarm panel reads `triggered`. */
  triggered?: () => void;
  logger: Logger;
  now?: () => number;
  /** Longest wait for one camera's picture. Default 1500 ms. */
  snapshotTimeoutMs?: number;
}

export function createDoorAlarm(options: DoorAlarmOptions): (event: DoorEvent) => Promise<void> {
  const { control, logger } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.snapshotTimeoutMs ?? 1500;

  async function picture(cameraId: string): Promise<DoorAlert["photos"][number] | undefined> {
    const camera = control.cameras().find((c) => c.id === cameraId);
    if (!camera) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const snapshot = await Promise.race([control.snapshot(camera.name), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
      return snapshot ? { cameraId: camera.id, cameraName: camera.name, jpeg: snapshot.jpeg } : undefined;
    } catch (error) {
      logger.info({ camera: camera.name, err: error }, "no picture from a camera linked to a door");
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  return async (event) => {
    if (event.first) return; // the state it was in when Vigil started: not news
    const sensor = options.sensors().find((s) => s.id === event.sensorId);
    if (!sensor) return;
    const open = event.state === "open";
    const at = now();
    const { mode, exitDelayUntil } = control.mode();
    // A door alerts in its modes, and not while whoever armed is on the way out (the exit delay).
    const alerting = sensor.modes.includes(mode) && !(exitDelayUntil !== null && at < exitDelayUntil);
    const alerts = doorAlerts({ from: !open, to: open }, alerting, sensor.mutedUntil, at);
    options.record({ id: event.id, sensorId: sensor.id, sensorName: sensor.name, kind: sensor.kind, state: event.state, at: event.since, alerted: alerts });
    if (!alerts) return;
    options.triggered?.();
    const photos = (await Promise.all(sensor.cameras.map(picture))).filter((p): p is NonNullable<typeof p> => p !== undefined);
    await options.alert({ type: "door-alert", id: event.id, sensorId: sensor.id, sensorName: sensor.name, kind: sensor.kind, at: event.since, photos });
    logger.info({ sensor: sensor.name, photos: photos.length }, "door alert queued");
  };
}
