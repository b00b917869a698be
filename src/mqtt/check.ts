/**
 * `vigil doctor`'s MQTT row: one connection attempt as Vigil's user, without a
 * last will and under its own client id, so a running Vigil's availability is
 * not touched; closed at once.
 */
import fs from "node:fs";
import mqtt from "mqtt";
import type { MqttSettings } from "../domain/mqtt.js";
import { maskUrl } from "../redact.js";
import { describeMqttError } from "./connection.js";

export async function checkBroker(settings: MqttSettings, timeoutMs = 5000): Promise<{ ok: boolean; detail: string }> {
  const where = maskUrl(settings.url);
  let ca: Buffer | undefined;
  try {
    ca = settings.caFile ? fs.readFileSync(settings.caFile) : undefined;
  } catch {
    return { ok: false, detail: `the CA file ${settings.caFile} cannot be read` };
  }
  const client = mqtt.connect(settings.url, {
    clientId: `vigil-doctor-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    protocolVersion: 4,
    ...(settings.username !== undefined ? { username: settings.username } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(ca ? { ca } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })), timeoutMs + 500);
      client.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      client.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return { ok: true, detail: `${where}: connected, topics under vigil/${settings.site}/` };
  } catch (error) {
    return { ok: false, detail: `${where}: ${describeMqttError(error)}` };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}
