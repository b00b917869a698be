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
