/**
 * `/sensors`: each door and window sensor, its state, its last change, its
 * battery and whether its source says it is online. `/addsensor`: the
 * Zigbee2MQTT contact sensors Vigil has seen on the broker, one button each;
 * a press adds it (a Zigbee2MQTT sensor on its topic). Admins only, like
 * every command (the access gate stands before every feature).
 */
import { createHash } from "node:crypto";
import { Composer } from "grammy";
import type { InlineKeyboardButton } from "grammy/types";
import type { SeenContactDevice, SensorState } from "../../domain/sensors.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { sensorTitle } from "../alert-view.js";
import { formatClock } from "../format.js";
import { html, joinHtml, type Html } from "../html.js";
import { say } from "../reply.js";
import { STALE_BUTTON } from "./access.js";

/** Callback data of an /addsensor button: a short hash of the device's topic (fits in 64 bytes whatever the name). */
function deviceKey(topic: string): string {
  return createHash("sha256").update(topic).digest("hex").slice(0, 16);
}

/** A sensor name from a Zigbee2MQTT friendly name: `Front Door` → `Front_Door`. */
export function sensorNameFor(device: string, taken: readonly string[]): string {
  const base = device.normalize("NFC").replace(/[^\p{L}\p{N}_-]+/gu, "_").replace(/^_+|_+$/g, "").slice(0, 28) || "sensor";
  let name = base;
  for (let n = 2; taken.some((t) => t.toLowerCase() === name.toLowerCase()); n++) name = `${base}_${n}`;
  return name;
}

export function sensorLine(state: SensorState, now: number, tz: string | undefined): Html {
  const what = state.open === undefined ? "no state yet" : state.open ? "open" : "closed";
  const parts = [`${what}${state.changedAt ? ` since ${formatClock(state.changedAt, now, tz)}` : ""}`];
  if (!state.online) parts.push("offline");
  if (state.battery !== undefined) parts.push(`battery ${state.battery}%${state.batteryLow ? " (low)" : ""}`);
  else if (state.batteryLow) parts.push("battery low");
  if (state.sensor.mutedUntil !== null && state.sensor.mutedUntil > now) parts.push(`muted until ${formatClock(state.sensor.mutedUntil, now, tz)}`);
  parts.push(`alerts in ${state.sensor.modes.join(", ")}`);
  return html`<b>${sensorTitle(state.sensor.name)}</b> (${state.sensor.kind}): ${parts.join(" · ")}`;
}

export function createSensorsFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const tz = deps.timeZone;

  composer.command("sensors", async (ctx) => {
    const states = deps.sensors?.sensors() ?? [];
    if (states.length === 0) return say(ctx, html`No door or window sensors yet: /addsensor offers the Zigbee2MQTT ones Vigil has seen, and \`vigil sensor add\` adds any kind.`);
    const now = deps.now();
    await say(ctx, joinHtml(states.map((s) => sensorLine(s, now, tz))));
  });

  composer.command("addsensor", async (ctx) => {
    if (!deps.sensors) throw new InputError("Door sensors are not available in this Vigil.");
    if (!deps.mqttStatus) return say(ctx, html`MQTT is not set up, so Vigil sees no Zigbee2MQTT sensors: run \`vigil mqtt set URL\` on the machine, or add a webhook or GPIO sensor with \`vigil sensor add\`.`);
    const devices = deps.sensors.seenContactDevices().slice(0, 20);
    if (devices.length === 0) return say(ctx, html`No Zigbee2MQTT contact sensor has been seen on the broker yet. Open and close the door once (Zigbee2MQTT then sends its state), and send /addsensor again.`);
    const now = deps.now();
    const buttons: InlineKeyboardButton[][] = devices.map((d: SeenContactDevice) => [{ text: `${d.name.slice(0, 40)} · seen ${formatClock(d.lastSeenAt, now, tz)}`, callback_data: `as:${deviceKey(d.topic)}` }]);
    await say(ctx, html`Zigbee2MQTT contact sensors seen on the broker. Which one is a door or window to watch?`, { reply_markup: { inline_keyboard: buttons } });
  });

  composer.callbackQuery(/^as:([0-9a-f]{16})$/, async (ctx) => {
    const device = deps.sensors?.seenContactDevices().find((d) => deviceKey(d.topic) === ctx.match[1]);
    if (!device || !deps.sensors) return ctx.answerCallbackQuery({ text: STALE_BUTTON });
    const name = sensorNameFor(device.name, deps.sensors.sensors().map((s) => s.sensor.name));
    const sensor = await deps.sensors.addSensor({ name, source: { type: "mqtt", topic: device.topic, format: "zigbee2mqtt" } });
    await ctx.answerCallbackQuery({ text: `Added ${sensor.name}.` });
    ctx.log.info({ sensor: sensor.id }, "sensor added from the chat");
    await ctx.editMessageText(html`Added <b>${sensor.name}</b> (${device.topic}): it alerts when it opens in home, away or night (\`vigil sensor modes\` changes that). Its alerts come with camera pictures once linked: \`vigil sensor link ${sensor.name} CAMERA...\` on the machine.`.value, { parse_mode: "HTML" });
  });

  return composer;
}
