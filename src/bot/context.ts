/**
 * The context every handler sees, and what features receive. Features get their
 * services injected (a narrow interface each), never the raw store.
 */
import type { ConversationFlavor } from "@grammyjs/conversations";
import type { Context } from "grammy";
import type { Control } from "../domain/control.js";
import type { MqttLinkStatus } from "../domain/mqtt.js";
import type { SatelliteControl } from "../domain/satellites.js";
import type { SensorControl } from "../domain/sensors.js";
import type { Logger } from "../log.js";
import type { Admin, Chat } from "../store/index.js";
import type { Outbox } from "../store/outbox.js";

export type BotContext = ConversationFlavor<Context> & {
  /** A child logger for this update (update id, chat, user). */
  log: Logger;
};

/** The part of the store the bot manages itself: who may use it, where alerts go, the claim code, the heartbeat. */
export interface BotAccess {
  chats(): readonly Chat[];
  isChat(id: number): boolean;
  addChat(chat: Chat): Promise<void>;
  removeChat(id: number): Promise<void>;
  admins(): readonly Admin[];
  isAdmin(userId: number): boolean;
  addAdmin(admin: Admin): Promise<void>;
  removeAdmin(id: number): Promise<void>;
  hasPendingClaim(now: number): boolean;
  redeemClaim(code: string, now: number): Promise<boolean>;
  /** The daily silent heartbeat message: on or off, and when the last one was queued. */
  heartbeat(): boolean;
  setHeartbeat(on: boolean): Promise<void>;
  heartbeatSentAt(): number;
  noteHeartbeat(at: number): Promise<void>;
}

export interface BotDeps {
  control: Control;
  access: BotAccess;
  outbox: Outbox;
  logger: Logger;
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** IANA time zone for times shown in the chat. Default: the machine's. */
  timeZone?: string;
  /** Set when the previous run died without stopping (see `previousCrash`): the chat is told once. */
  previousCrash?: { lastSeenAt: number };
  /** The MQTT link, when MQTT is set up (`/status` shows it). */
  mqttStatus?: () => MqttLinkStatus;
  /** Door and window sensors (`/sensors`, `/addsensor`, the buttons of door alerts). */
  sensors?: SensorControl;
  /** Satellites, when this box is a hub (MQTT set up): `/satellites`, `/adopt`, a line each in `/status`. */
  satellites?: SatelliteControl;
}

/** What every feature factory receives: the deps with defaults filled in, plus shared helpers. */
export interface FeatureDeps extends Required<Omit<BotDeps, "timeZone" | "previousCrash" | "mqttStatus" | "sensors" | "satellites">> {
  satellites: SatelliteControl | undefined;
  timeZone: string | undefined;
  mqttStatus: (() => MqttLinkStatus) | undefined;
  sensors: SensorControl | undefined;
  /** Users seen recently, by lower-case username, so `/admins add @name` can find their id. */
  seenUsers: Map<string, { id: number; username: string; name: string }>;
}
