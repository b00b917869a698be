/** `/status`, `/cameras` and `/get [camera]`: read-only views. */
import { Composer } from "grammy";
import { findCamera, formatSetting, SETTING_KEYS, unknownCameraError, type Camera } from "../../domain/camera.js";
import type { CameraState } from "../../domain/control.js";
import { alertsIn, type Mode } from "../../domain/modes.js";
import type { MqttLinkStatus } from "../../domain/mqtt.js";
import { InputError } from "../../errors.js";
import { formatBytes } from "../../store/retention.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { formatClock, formatDay, formatDuration, words } from "../format.js";
import { html, joinHtml, type Html } from "../html.js";
import { modeLabel, nextText } from "../mode-view.js";
import { say } from "../reply.js";

function liveLine(state: CameraState, now: number, tz: string | undefined): string {
  const live = state.live;
  if (!live) return "not started";
  const parts: string[] = [];
  if (live.state === "online") parts.push(`online, ${live.fps.toFixed(1)} fps`);
  else if (live.state === "offline") parts.push(`offline${live.lastFrameAt ? ` since ${formatClock(live.lastFrameAt, now, tz)}` : ""}${live.lastError ? ` (${live.lastError})` : ""}`);
  // Not online yet: why, when it is known (a Pi camera whose rpicam-vid is missing never gets past starting).
  else parts.push(live.lastError ? `${live.state} (${live.lastError})` : live.state);
  if (live.lastMotionAt) parts.push(`last motion ${formatClock(live.lastMotionAt, now, tz)}`);
  if (live.lastAlertAt) parts.push(`last alert ${formatClock(live.lastAlertAt, now, tz)}`);
  return parts.join(" · ");
}

function switches(camera: Camera, now: number, tz: string | undefined, mode?: Mode): string[] {
  const out: string[] = [];
  if (!camera.armed) out.push("disarmed on its own");
  else if (mode !== undefined && mode !== "off" && !alertsIn(camera.settings.modes, mode)) out.push(`silent in ${mode} (alerts in ${camera.settings.modes.join(", ")})`);
  if (camera.mutedUntil !== null && camera.mutedUntil > now) out.push(`muted until ${formatClock(camera.mutedUntil, now, tz)}`);
  return out;
}

function shortSettings(camera: Camera): string {
  const s = camera.settings;
  return `sensitivity ${s.sensitivity} · ${s.classes.join(", ")} · score ${s.score} · ${s.fps} fps${s.zones.length ? " · zone set" : ""}`;
}

/** Every setting of a camera, one per line, as `/set` takes them. */
export function settingsText(camera: Camera): Html {
  return joinHtml([html`<b>${camera.name}</b>`, ...SETTING_KEYS.map((key) => html`${key}: ${formatSetting(key, camera.settings)}`)]);
}

/** `MQTT: connected to mqtt://broker:1883.` or why not, and since when. */
export function mqttLine(link: MqttLinkStatus, now: number, tz: string | undefined): string {
  switch (link.state) {
    case "connected":
      return `MQTT: connected to ${link.url}.`;
    case "connecting":
      return `MQTT: connecting to ${link.url}…`;
    case "down":
      return `MQTT: not connected to ${link.url} since ${formatClock(link.since, now, tz)} (${link.reason ?? "unknown reason"}); retrying by itself.`;
    case "stopped":
      return "MQTT: stopped.";
  }
}

export function createStatusFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const tz = deps.timeZone;

  composer.command("status", async (ctx) => {
    const status = await deps.control.status();
    const now = deps.now();
    const lines: Html[] = [html`<b>${modeLabel(status.mode.mode)}</b> · running for ${formatDuration(now - status.startedAt)}`];
    const next = nextText(status.mode, now, tz);
    if (status.mode.exitDelayUntil !== null) lines.push(html`Exit delay until ${formatClock(status.mode.exitDelayUntil, now, tz)}.`);
    if (next) lines.push(html`${next}`);
    lines.push(status.detector.ok ? html`Detector: ${status.detector.model}, working.` : html`Detector: ${status.detector.model}, not working${status.detector.reason ? ` (${status.detector.reason})` : ""}. Alerts come from motion alone.`);
    if (status.disk) {
      const { usedBytes, freeBytes, oldestEventAt, paused } = status.disk;
      lines.push(html`Recording: ${formatBytes(usedBytes)} used, ${formatBytes(freeBytes)} free${oldestEventAt ? `, oldest event ${formatDay(oldestEventAt, tz)}` : ""}.`);
      if (paused) lines.push(html`Clips paused: ${paused}`);
    }
    const mqtt = deps.mqttStatus?.();
    if (mqtt) lines.push(html`${mqttLine(mqtt, now, tz)}`);
    for (const view of deps.satellites?.list() ?? []) {
      if (view.state !== "adopted") continue;
      lines.push(view.silent ? html`Satellite ${view.site}: silent since ${view.lastHeardAt ? formatClock(view.lastHeardAt, now, tz) : "its adoption"}.` : html`Satellite ${view.site}: heard ${formatDuration(now - (view.lastHeardAt ?? now))} ago, Vigil ${view.version ?? "?"}${view.detector && !view.detector.ok ? ", detector not working" : ""}.`);
    }
    if (status.cameras.length === 0) lines.push(html`No cameras yet: /addcamera adds one.`);
    for (const state of status.cameras) {
      const flags = switches(state.camera, now, tz, status.mode.mode);
      lines.push(html``, html`<b>${state.camera.name}</b>: ${liveLine(state, now, tz)}${flags.length ? ` · ${flags.join(" · ")}` : ""}`, html`${shortSettings(state.camera)}`);
    }
    await say(ctx, joinHtml(lines));
  });

  composer.command("cameras", async (ctx) => {
    const cameras = deps.control.cameras();
    if (cameras.length === 0) return say(ctx, html`No cameras yet: /addcamera adds one.`);
    const now = deps.now();
    await say(ctx, joinHtml(cameras.map((c) => {
      const flags = switches(c, now, tz);
      return html`<b>${c.name}</b>: <code>${c.url}</code>${flags.length ? ` · ${flags.join(" · ")}` : ""}`;
    })));
  });

  composer.command("get", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /get for every camera, or /get followed by one camera name.");
    const cameras = deps.control.cameras();
    if (args[0]) {
      const camera = findCamera(cameras, args[0]);
      if (!camera) throw unknownCameraError(args[0], cameras);
      return say(ctx, settingsText(camera));
    }
    if (cameras.length === 0) return say(ctx, html`No cameras yet: /addcamera adds one.`);
    await say(ctx, joinHtml(cameras.map(settingsText), "\n\n"));
  });

  return composer;
}
