/**
 * The store's domain functions. Callers never see the raw document: they ask
 * `cameras()`, `modeState()`, `addCamera(...)`; every change is validated here,
 * written atomically and encrypted, and announced to `onChange` listeners (the
 * pipeline reconciles its cameras from those).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { defaultSettings, findCamera, unknownCameraError, validateCameraName, type Camera, type CameraSettings } from "../domain/camera.js";
import { DEFAULT_CAMERA_MODES, type Mode, type ModeState } from "../domain/modes.js";
import { formatSchedule, MAX_SCHEDULES, overlaps, type Schedule, type TimeWindow } from "../domain/schedule.js";
import type { MqttSettings } from "../domain/mqtt.js";
import type { NewSensorInput, Sensor } from "../domain/sensors.js";
import { validateDebounce, validateSensorName } from "../domain/sensors.js";
import { InputError } from "../errors.js";
import { EncryptedDocument } from "./document.js";
import { storeSpec, type StoreData } from "./schema.js";
import type { Vault } from "./vault.js";

export interface Chat {
  id: number;
  threadId?: number | undefined;
  title?: string | undefined;
}

export interface Admin {
  id: number;
  username?: string | undefined;
  name?: string | undefined;
}

export interface Retention {
  maxBytes: number;
  maxAgeDays: number;
  minFreeBytes: number;
  perCameraBytes: Record<string, number>;
}

export type NewCamera = Pick<Camera, "name" | "url" | "username" | "password" | "recordUrl" | "snapshotUrl"> & { settings?: Partial<CameraSettings> };

export type { MqttSettings };

export type StoreChange = "cameras" | "mode" | "schedules" | "chats" | "admins" | "retention" | "token" | "mqtt" | "sensors" | "satellite";

/** This box as a satellite: its broker and site (see SatelliteConfigSchema). */
export type SatelliteConfig = NonNullable<StoreData["satellite"]>;

function hashCode(code: string): Buffer {
  return createHash("sha256").update(code.trim().toLowerCase()).digest();
}

export class Store {
  readonly #doc: EncryptedDocument<StoreData>;
  readonly #listeners = new Set<(change: StoreChange) => void>();

  private constructor(
    readonly vault: Vault,
    doc: EncryptedDocument<StoreData>,
  ) {
    this.#doc = doc;
  }

  /** Opens the store document in an unlocked vault; creates it (with `token`) when it does not exist yet. */
  static async open(vault: Vault, token?: string): Promise<Store> {
    return new Store(vault, await EncryptedDocument.open(vault, storeSpec(token)));
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #update<R>(change: StoreChange, fn: (draft: StoreData) => R): Promise<R> {
    const result = await this.#doc.update(fn);
    for (const listener of this.#listeners) listener(change);
    return result;
  }

  flush(): Promise<void> {
    return this.#doc.flush();
  }

  // --- Telegram -----------------------------------------------------------

  token(): string {
    return this.#doc.data.telegram.token;
  }

  setToken(token: string): Promise<void> {
    return this.#update("token", (d) => {
      d.telegram.token = token;
    });
  }

  chats(): readonly Chat[] {
    return this.#doc.data.chats;
  }

  isChat(id: number): boolean {
    return this.#doc.data.chats.some((c) => c.id === id);
  }

  addChat(chat: Chat): Promise<void> {
    return this.#update("chats", (d) => {
      d.chats = d.chats.filter((c) => c.id !== chat.id);
      d.chats.push({ id: chat.id, ...(chat.threadId !== undefined ? { threadId: chat.threadId } : {}), ...(chat.title ? { title: chat.title } : {}) });
    });
  }

  removeChat(id: number): Promise<void> {
    return this.#update("chats", (d) => {
      d.chats = d.chats.filter((c) => c.id !== id);
    });
  }

  admins(): readonly Admin[] {
    return this.#doc.data.admins;
  }

  isAdmin(userId: number): boolean {
    return this.#doc.data.admins.some((a) => a.id === userId);
  }

  addAdmin(admin: Admin): Promise<void> {
    return this.#update("admins", (d) => {
      d.admins = d.admins.filter((a) => a.id !== admin.id);
      d.admins.push({ id: admin.id, ...(admin.username ? { username: admin.username } : {}), ...(admin.name ? { name: admin.name } : {}) });
    });
  }

  removeAdmin(id: number): Promise<void> {
    return this.#update("admins", (d) => {
      if (d.admins.length === 1 && d.admins[0]?.id === id) throw new InputError("That is the last admin; add another admin before removing this one.");
      d.admins = d.admins.filter((a) => a.id !== id);
    });
  }

  /** Creates a single-use claim code valid until `expiresAt` (epoch ms). Only its hash is stored. */
  async newClaimCode(expiresAt: number): Promise<string> {
    const code = randomBytes(6).toString("base64url").replace(/[-_]/g, "x").toLowerCase();
    await this.#update("admins", (d) => {
      d.claim = { codeHash: hashCode(code).toString("hex"), expiresAt };
    });
    return code;
  }

  hasPendingClaim(now: number): boolean {
    const claim = this.#doc.data.claim;
    return claim !== null && claim.expiresAt > now;
  }

  /** True, and the code is spent, when `code` is the pending, unexpired claim code. */
  async redeemClaim(code: string, now: number): Promise<boolean> {
    const claim = this.#doc.data.claim;
    if (!claim || claim.expiresAt <= now) return false;
    const expected = Buffer.from(claim.codeHash, "hex");
    const given = hashCode(code);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
    await this.#update("admins", (d) => {
      d.claim = null;
    });
    return true;
  }

  // --- Arming and cameras -------------------------------------------------

  /** The mode in force as last written, when and by whom (the control moves it on through the schedules). */
  modeState(): ModeState {
    return this.#doc.data.mode;
  }

  /** Whether the mode in force as last written is an armed one (not `off`). */
  isArmed(): boolean {
    return this.#doc.data.mode.mode !== "off";
  }

  setModeState(state: ModeState): Promise<void> {
    return this.#update("mode", (d) => {
      d.mode = structuredClone(state);
    });
  }

  /** Switches one camera's own switch on or off. */
  setCameraArmed(cameraName: string, armed: boolean): Promise<Camera> {
    return this.#update("cameras", (d) => {
      const camera = findIn(d, cameraName);
      camera.armed = armed;
      return camera;
    });
  }

  // --- Schedules, exit delay, quiet hours -----------------------------------

  schedules(): readonly Schedule[] {
    return this.#doc.data.schedules;
  }

  /** Adds a schedule; refused in one sentence when there are too many, or when it overlaps one there is. */
  addSchedule(schedule: Schedule): Promise<Schedule> {
    return this.#update("schedules", (d) => {
      if (d.schedules.length >= MAX_SCHEDULES) throw new InputError(`Vigil keeps at most ${MAX_SCHEDULES} schedules; remove one first (/schedule lists them).`);
      const clash = (d.schedules as Schedule[]).find((s) => overlaps(s, schedule));
      if (clash) throw new InputError(`That overlaps ${formatSchedule(clash)}; schedules must not overlap (one may end when another starts).`);
      d.schedules.push(structuredClone(schedule));
      return schedule;
    });
  }

  /** Removes one schedule by id; undefined when there is none (already removed). */
  removeSchedule(id: string): Promise<Schedule | undefined> {
    return this.#update("schedules", (d) => {
      const found = (d.schedules as Schedule[]).find((s) => s.id === id);
      d.schedules = d.schedules.filter((s) => s.id !== id);
      return found;
    });
  }

  /** Removes every schedule; returns how many there were. */
  clearSchedules(): Promise<number> {
    return this.#update("schedules", (d) => {
      const n = d.schedules.length;
      d.schedules = [];
      return n;
    });
  }

  /** Seconds after a person arms during which new visits do not alert (0: none). */
  exitDelay(): number {
    return this.#doc.data.exitDelay;
  }

  setExitDelay(seconds: number): Promise<void> {
    return this.#update("mode", (d) => {
      d.exitDelay = seconds;
    });
  }

  /** When alerts come silently; null: never. */
  quietHours(): TimeWindow | null {
    return this.#doc.data.quietHours;
  }

  setQuietHours(window: TimeWindow | null): Promise<void> {
    return this.#update("schedules", (d) => {
      d.quietHours = window === null ? null : structuredClone(window);
    });
  }

  cameras(): readonly Camera[] {
    return this.#doc.data.cameras;
  }

  camera(name: string): Camera | undefined {
    return findCamera(this.cameras(), name);
  }

  /** The camera called `name`, or an InputError that lists the cameras there are. */
  requireCamera(name: string): Camera {
    const camera = this.camera(name);
    if (!camera) throw unknownCameraError(name, this.cameras());
    return camera;
  }

  async addCamera(input: NewCamera): Promise<Camera> {
    const name = validateCameraName(input.name);
    return this.#update("cameras", (d) => {
      if (d.cameras.some((c) => c.name.toLowerCase() === name.toLowerCase())) throw new InputError(`There is already a camera called ${name}; choose another name.`);
      if (d.cameras.length >= 64) throw new InputError("Vigil handles at most 64 cameras.");
      const camera: Camera = {
        id: randomBytes(6).toString("hex"),
        name,
        url: input.url,
        ...(input.username ? { username: input.username } : {}),
        ...(input.password ? { password: input.password } : {}),
        ...(input.recordUrl ? { recordUrl: input.recordUrl } : {}),
        ...(input.snapshotUrl ? { snapshotUrl: input.snapshotUrl } : {}),
        armed: true,
        mutedUntil: null,
        settings: { ...defaultSettings(), ...input.settings },
      };
      d.cameras.push(camera as StoreData["cameras"][number]);
      return camera;
    });
  }

  removeCamera(name: string): Promise<Camera> {
    return this.#update("cameras", (d) => {
      const camera = findIn(d, name);
      d.cameras = d.cameras.filter((c) => c.id !== camera.id);
      for (const sensor of d.sensors) sensor.cameras = sensor.cameras.filter((id) => id !== camera.id);
      return camera;
    });
  }

  async renameCamera(name: string, newName: string): Promise<Camera> {
    const valid = validateCameraName(newName);
    return this.#update("cameras", (d) => {
      const camera = findIn(d, name);
      if (d.cameras.some((c) => c.id !== camera.id && c.name.toLowerCase() === valid.toLowerCase())) throw new InputError(`There is already a camera called ${valid}.`);
      camera.name = valid;
      return camera;
    });
  }

  /** Changes stream URLs or credentials of a camera (settings go through {@link updateSettings}). */
  updateCamera(name: string, patch: Partial<Pick<Camera, "url" | "username" | "password" | "recordUrl" | "snapshotUrl">>): Promise<Camera> {
    return this.#update("cameras", (d) => {
      const camera = findIn(d, name);
      Object.assign(camera, patch);
      return camera;
    });
  }

  /** Applies a settings patch to one camera, or to every camera when `name` is undefined. */
  updateSettings(name: string | undefined, patch: Partial<CameraSettings>): Promise<Camera[]> {
    return this.#update("cameras", (d) => {
      const targets = name === undefined ? d.cameras : [findIn(d, name)];
      for (const camera of targets) camera.settings = { ...camera.settings, ...structuredClone(patch) } as typeof camera.settings;
      return targets;
    });
  }

  /** Mutes one camera (or all) until `until` (epoch ms); null unmutes. */
  setMuted(name: string | undefined, until: number | null): Promise<Camera[]> {
    return this.#update("cameras", (d) => {
      const targets = name === undefined ? d.cameras : [findIn(d, name)];
      for (const camera of targets) camera.mutedUntil = until;
      return targets;
    });
  }

  // --- Retention and misc -------------------------------------------------

  retention(): Retention {
    return this.#doc.data.retention;
  }

  setRetention(patch: Partial<Retention>): Promise<void> {
    return this.#update("retention", (d) => {
      d.retention = { ...d.retention, ...patch };
    });
  }

  heartbeat(): boolean {
    return this.#doc.data.heartbeat;
  }

  setHeartbeat(on: boolean): Promise<void> {
    return this.#update("chats", (d) => {
      d.heartbeat = on;
    });
  }

  /** When the last heartbeat message was queued (epoch ms; 0: never). */
  heartbeatSentAt(): number {
    return this.#doc.data.heartbeatSentAt;
  }

  noteHeartbeat(at: number): Promise<void> {
    return this.#update("chats", (d) => {
      d.heartbeatSentAt = at;
    });
  }

  // --- MQTT, sensors, the webhook listener ----------------------------------

  /** The MQTT connection, or undefined when MQTT is off (the default). */
  mqtt(): MqttSettings | undefined {
    return this.#doc.data.mqtt ?? undefined;
  }

  setMqtt(settings: MqttSettings | null): Promise<void> {
    return this.#update("mqtt", (d) => {
      d.mqtt = settings === null ? null : { ...structuredClone(settings) };
    });
  }

  /** Where the webhook listener binds, or undefined when it is off (the default). */
  webhook(): { host: string; port: number } | undefined {
    return this.#doc.data.webhook ?? undefined;
  }

  setWebhook(listen: { host: string; port: number } | null): Promise<void> {
    return this.#update("sensors", (d) => {
      d.webhook = listen;
    });
  }

  /** Set when this box is a satellite (`vigil satellite join`); undefined on a hub or a box on its own. */
  satellite(): SatelliteConfig | undefined {
    return this.#doc.data.satellite ?? undefined;
  }

  setSatellite(config: SatelliteConfig | null): Promise<void> {
    return this.#update("satellite", (d) => {
      d.satellite = config === null ? null : structuredClone(config);
    });
  }

  sensors(): readonly Sensor[] {
    return this.#doc.data.sensors;
  }

  sensor(name: string): Sensor | undefined {
    const key = name.trim().toLowerCase();
    return this.sensors().find((s) => s.name.toLowerCase() === key);
  }

  requireSensor(name: string): Sensor {
    const sensor = this.sensor(name);
    if (sensor) return sensor;
    const names = this.sensors().map((s) => s.name);
    const shown = name.length > 32 ? `${name.slice(0, 32)}…` : name;
    throw new InputError(names.length ? `There is no sensor called "${shown}"; the sensors are ${names.join(", ")}.` : `There is no sensor called "${shown}"; there are no sensors yet (vigil sensor add).`);
  }

  addSensor(input: NewSensorInput): Promise<Sensor> {
    const name = validateSensorName(input.name);
    const debounceMs = validateDebounce(input.debounceMs ?? 300);
    return this.#update("sensors", (d) => {
      if (d.sensors.some((s) => s.name.toLowerCase() === name.toLowerCase())) throw new InputError(`There is already a sensor called ${name}; choose another name.`);
      if (d.sensors.length >= 64) throw new InputError("Vigil handles at most 64 sensors.");
      const source = input.source;
      if (source.type === "mqtt" && d.sensors.some((s) => s.source.type === "mqtt" && s.source.topic === source.topic)) throw new InputError(`Another sensor already listens on ${source.topic}.`);
      if (source.type === "gpio" && d.sensors.some((s) => s.source.type === "gpio" && s.source.chip === source.chip && s.source.line === source.line)) throw new InputError(`Another sensor already reads ${source.chip}:${source.line}.`);
      const sensor: Sensor = { id: randomBytes(6).toString("hex"), name, kind: input.kind ?? "door", source: structuredClone(source), cameras: [], debounceMs, mutedUntil: null, modes: [...(input.modes ?? DEFAULT_CAMERA_MODES)] };
      d.sensors.push(sensor);
      return sensor;
    });
  }

  removeSensor(name: string): Promise<Sensor> {
    const sensor = this.requireSensor(name);
    return this.#update("sensors", (d) => {
      d.sensors = d.sensors.filter((s) => s.id !== sensor.id);
      return sensor;
    });
  }

  /** Links a sensor to cameras by name (replacing its links); no names: no links. */
  linkSensor(name: string, cameraNames: readonly string[]): Promise<Sensor> {
    const sensor = this.requireSensor(name);
    const ids = [...new Set(cameraNames.map((c) => this.requireCamera(c).id))];
    return this.#update("sensors", (d) => {
      const found = d.sensors.find((s) => s.id === sensor.id)!;
      found.cameras = ids;
      return found;
    });
  }

  /** The modes a sensor alerts in. */
  setSensorModes(name: string, modes: readonly Mode[]): Promise<Sensor> {
    const sensor = this.requireSensor(name);
    return this.#update("sensors", (d) => {
      const found = d.sensors.find((s) => s.id === sensor.id)!;
      found.modes = [...modes];
      return found;
    });
  }

  muteSensor(id: string, until: number | null): Promise<Sensor> {
    return this.#update("sensors", (d) => {
      const found = d.sensors.find((s) => s.id === id);
      if (!found) throw new InputError("That sensor no longer exists.");
      found.mutedUntil = until;
      return found;
    });
  }

  /** Every secret value in the store, for the log scrubber. */
  secrets(): string[] {
    const out = [this.#doc.data.telegram.token];
    for (const c of this.#doc.data.cameras) if (c.password) out.push(c.password);
    if (this.#doc.data.mqtt?.password) out.push(this.#doc.data.mqtt.password);
    if (this.#doc.data.satellite?.password) out.push(this.#doc.data.satellite.password);
    for (const s of this.#doc.data.sensors) if (s.source.type === "webhook") out.push(s.source.secret);
    return out.filter((s) => s.length > 0);
  }

  /** The configuration with every secret replaced, for `vigil config show`. */
  redactedView(): Record<string, unknown> {
    const data = this.#doc.data;
    const token = data.telegram.token;
    return {
      dataDir: this.vault.dataDir,
      unlock: this.vault.method,
      telegram: { token: token ? `${token.split(":")[0]}:***` : "(not set)" },
      mode: data.mode.mode,
      schedules: (data.schedules as Schedule[]).map((sc) => formatSchedule(sc)),
      exitDelay: data.exitDelay,
      quietHours: data.quietHours,
      chats: data.chats.map((c) => ({ ...c })),
      admins: data.admins.map((a) => ({ ...a })),
      cameras: data.cameras.map((c) => ({
        name: c.name,
        url: c.url,
        username: c.username,
        password: c.password ? "***" : undefined,
        recordUrl: c.recordUrl,
        snapshotUrl: c.snapshotUrl,
        armed: c.armed,
        mutedUntil: c.mutedUntil === null ? null : new Date(c.mutedUntil).toISOString(),
        settings: c.settings,
      })),
      retention: data.retention,
      heartbeat: data.heartbeat,
      mqtt: data.mqtt ? { ...data.mqtt, password: data.mqtt.password ? "***" : undefined } : null,
      webhook: data.webhook,
      satellite: data.satellite ? { ...data.satellite, password: data.satellite.password ? "***" : undefined } : null,
      sensors: data.sensors.map((s) => ({ ...s, source: s.source.type === "webhook" ? { ...s.source, secret: "***" } : s.source })),
    };
  }
}

function findIn(d: StoreData, name: string): StoreData["cameras"][number] {
  const camera = findCamera(d.cameras, name);
  if (!camera) throw unknownCameraError(name, d.cameras);
  return camera;
}
