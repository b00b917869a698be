/**
 * The sensor sources that Vigil runs itself (MQTT sensors come through the
 * bridge): the webhook listener and one gpiomon per GPIO sensor, started and
 * stopped to match the store, all owned here and ended with `signal`.
 */
import type { Sensor, SensorReading } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import { superviseGpio } from "./gpio.js";
import { startWebhookListener } from "./webhook.js";

export interface SensorSourcesOptions {
  sensors: () => readonly Sensor[];
  /** Where the listener binds; undefined: no listener (the default). */
  webhook: () => { host: string; port: number } | undefined;
  reading: (reading: SensorReading) => void;
  logger: Logger;
  signal: AbortSignal;
  now?: () => number;
}

export interface SensorSources {
  /** Starts and stops gpiomon children to match the sensors now configured. */
  reconcile(): void;
  /** The webhook listener's port once bound (tests bind port 0). */
  webhookPort(): number | undefined;
  /** Resolves once every child and the listener are gone (after `signal` aborts). */
  stopped(): Promise<void>;
}

export function startSensorSources(options: SensorSourcesOptions): SensorSources {
  const { logger, signal } = options;
  const gpio = new Map<string, { key: string; stop: AbortController; done: Promise<void> }>();
  const tasks = new Set<Promise<unknown>>();
  let port: number | undefined;

  const listen = options.webhook();
  if (listen) {
    const started = startWebhookListener({ ...listen, sensors: options.sensors, reading: options.reading, logger, signal, ...(options.now ? { now: options.now } : {}) }).then(
      (server) => {
        port = server.port;
        return server.closed;
      },
      (error: NodeJS.ErrnoException) => logger.error({ address: `${listen.host}:${listen.port}`, code: error.code }, `webhook: cannot listen on ${listen.host}:${listen.port} (${error.code === "EADDRINUSE" ? "the port is in use" : error.code === "EADDRNOTAVAIL" ? "this machine has no such address" : error.code === "EACCES" ? "ports under 1024 need root" : error.message}); webhook sensors do not work`),
    );
    tasks.add(started);
  }

  function reconcile(): void {
    if (signal.aborted) return;
    const wanted = new Map(options.sensors().filter((s) => s.source.type === "gpio").map((s) => [s.id, s]));
    for (const [id, running] of gpio) {
      const sensor = wanted.get(id);
      if (sensor && JSON.stringify(sensor.source) === running.key) continue;
      running.stop.abort();
      gpio.delete(id);
    }
    for (const [id, sensor] of wanted) {
      if (gpio.has(id)) continue;
      const stop = new AbortController();
      const both = AbortSignal.any([signal, stop.signal]);
      const done = superviseGpio({ sensor, reading: options.reading, logger, signal: both, ...(options.now ? { now: options.now } : {}) }).catch((error: unknown) => logger.error({ err: error, sensor: sensor.name }, "the GPIO sensor stopped"));
      tasks.add(done);
      void done.finally(() => tasks.delete(done));
      gpio.set(id, { key: JSON.stringify(sensor.source), stop, done });
    }
  }
  reconcile();

  return {
    reconcile,
    webhookPort: () => port,
    async stopped() {
      await Promise.all([...tasks]);
    },
  };
}
