/** The MQTT link as `/status` and the log describe it. Nothing here knows about MQTT.js. */
export interface MqttLinkStatus {
  state: "connecting" | "connected" | "down" | "stopped";
  /** The broker, credentials masked. */
  url: string;
  /** Epoch ms of the last change of state. */
  since: number;
  /** Why it is down, one sentence. */
  reason?: string;
}

/** The MQTT connection as stored (`vigil mqtt set`). */
export interface MqttSettings {
  url: string;
  username?: string | undefined;
  /** Kept in the encrypted store; never logged or shown. */
  password?: string | undefined;
  /** Topics go under `vigil/<site>/`. */
  site: string;
  /** Home Assistant's discovery prefix. */
  discoveryPrefix: string;
  /** CA certificate for `mqtts://`; default the system's CAs. */
  caFile?: string | undefined;
  /** A topic carrying Home Assistant presence (`home` / `not_home`): the mode follows it (see Control.setPresence). */
  presenceTopic?: string | undefined;
}
