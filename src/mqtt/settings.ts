/** Checking what `vigil mqtt set` is given, once, with a sentence for each mistake. */
import fs from "node:fs";
import { ConfigError } from "../errors.js";
import type { MqttSettings } from "../domain/mqtt.js";
import { parseBrokerUrl } from "./connection.js";

const SEGMENT = /^[A-Za-z0-9_-]{1,32}$/;

export interface MqttSetInput {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  site?: string | undefined;
  discoveryPrefix?: string | undefined;
  caFile?: string | undefined;
  presenceTopic?: string | undefined;
}

export function parseMqttSettings(input: MqttSetInput): MqttSettings {
  const url = parseBrokerUrl(input.url);
  const site = input.site?.trim() ?? "home";
  if (!SEGMENT.test(site)) throw new ConfigError("--site is 1 to 32 letters, digits, `_` or `-` (it becomes the topic vigil/<site>/).", "site");
  const discoveryPrefix = input.discoveryPrefix?.trim() ?? "homeassistant";
  if (!/^[A-Za-z0-9_/-]{1,64}$/.test(discoveryPrefix) || discoveryPrefix.startsWith("/") || discoveryPrefix.endsWith("/")) throw new ConfigError("--discovery-prefix is a topic like homeassistant: letters, digits, `_`, `-` and inner `/`.", "discoveryPrefix");
  if (input.password !== undefined && input.username === undefined) throw new ConfigError("Give --username with --password-stdin.", "username");
  if (input.username !== undefined && (input.username.length === 0 || input.username.length > 128)) throw new ConfigError("--username is 1 to 128 characters.", "username");
  if (input.password !== undefined && input.password.length > 1024) throw new ConfigError("The password is longer than 1024 characters.", "password");
  let caFile: string | undefined;
  if (input.caFile !== undefined) {
    if (!url.startsWith("mqtts:") && !url.startsWith("wss:")) throw new ConfigError("--ca-file is for an encrypted broker URL (mqtts:// or wss://).", "caFile");
    try {
      const pem = fs.readFileSync(input.caFile, "utf8");
      if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(`${input.caFile} is not a PEM certificate file.`, "caFile");
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`The CA file ${input.caFile} cannot be read.`, "caFile", { cause: error });
    }
    caFile = input.caFile;
  }
  const presenceTopic = input.presenceTopic?.trim();
  if (presenceTopic !== undefined && (presenceTopic.length === 0 || presenceTopic.length > 256 || /[#+]/.test(presenceTopic) || [...presenceTopic].some((c) => c.charCodeAt(0) < 32) || presenceTopic.startsWith("/"))) {
    throw new ConfigError("--presence-topic is one MQTT topic (no + or # wildcards), for example homeassistant/person/alice/state.", "presenceTopic");
  }
  return { url, site, discoveryPrefix, ...(input.username !== undefined ? { username: input.username } : {}), ...(input.password ? { password: input.password } : {}), ...(caFile ? { caFile } : {}), ...(presenceTopic ? { presenceTopic } : {}) };
}
