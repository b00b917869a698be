/**
 * The buttons under every alert: `Mute 30 min`, `Mute 2 h`, `Snapshot`,
 * `Disarm` (and their undo: `Muted until 14:30 · Unmute`, `Disarmed · Arm`).
 * Each press is answered at once, then the buttons are redrawn from the new
 * state, so the message shows what is true now.
 */
import { Composer } from "grammy";
import { isNotModified } from "../api-errors.js";
import { alertButtonState, alertKeyboard, DOOR_BUTTON_PREFIX, doorKeyboard, parseAlertButton, sensorTitle, type AlertAction } from "../alert-view.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { formatClock } from "../format.js";
import { STALE_BUTTON } from "./access.js";
import { chatSource } from "./modes.js";
import { replySnapshot } from "./snapshot.js";

export function createAlertButtonsFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { control } = deps;

  composer.callbackQuery(/^al:/, async (ctx) => {
    const parsed = parseAlertButton(ctx.callbackQuery.data);
    if (!parsed) return ctx.answerCallbackQuery({ text: STALE_BUTTON });
    if (parsed.cameraId.startsWith(DOOR_BUTTON_PREFIX)) return doorButton(ctx, parsed.action, parsed.cameraId.slice(DOOR_BUTTON_PREFIX.length));
    const camera = control.cameras().find((c) => c.id === parsed.cameraId);
    if (!camera) return ctx.answerCallbackQuery({ text: "That camera no longer exists." });
    const now = deps.now();
    switch (parsed.action) {
      case "m30":
      case "m120": {
        const until = now + (parsed.action === "m30" ? 30 : 120) * 60_000;
        await control.mute(camera.name, until);
        await ctx.answerCallbackQuery({ text: `${camera.name} is muted until ${formatClock(until, now, deps.timeZone)}.` });
        break;
      }
      case "unmute":
        await control.mute(camera.name, null);
        await ctx.answerCallbackQuery({ text: `${camera.name} alerts again.` });
        break;
      case "disarm":
        await control.disarm(undefined, chatSource(ctx.from));
        await ctx.answerCallbackQuery({ text: "Disarmed: no alerts until /arm." });
        break;
      case "arm":
        await control.arm(undefined, chatSource(ctx.from));
        await ctx.answerCallbackQuery({ text: "Armed away." });
        break;
      case "snapshot":
        await ctx.answerCallbackQuery({ text: `Taking a picture from ${camera.name}…` });
        await replySnapshot(ctx, deps, camera.name, ctx.callbackQuery.message?.message_id);
        return;
    }
    ctx.log.info({ action: parsed.action, camera: camera.id }, "alert button pressed");
    const markup = alertKeyboard(camera.id, alertButtonState(control, camera.id) ?? { mutedUntil: null, systemArmed: control.isArmed() }, deps.now(), deps.timeZone);
    await ctx.editMessageReplyMarkup({ reply_markup: markup }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
  });

  /** The buttons of a door alert: mute or unmute the sensor, disarm or arm the system. */
  async function doorButton(ctx: BotContext & { callbackQuery: NonNullable<BotContext["callbackQuery"]> }, action: AlertAction, sensorId: string): Promise<void> {
    const sensor = deps.sensors?.sensors().find((s) => s.sensor.id === sensorId)?.sensor;
    if (!sensor || !deps.sensors) {
      await ctx.answerCallbackQuery({ text: "That sensor no longer exists." });
      return;
    }
    const now = deps.now();
    const title = sensorTitle(sensor.name);
    switch (action) {
      case "m30":
      case "m120": {
        const until = now + (action === "m30" ? 30 : 120) * 60_000;
        await deps.sensors.muteSensor(sensor.id, until);
        await ctx.answerCallbackQuery({ text: `${title} is muted until ${formatClock(until, now, deps.timeZone)}.` });
        break;
      }
      case "unmute":
        await deps.sensors.muteSensor(sensor.id, null);
        await ctx.answerCallbackQuery({ text: `${title} alerts again.` });
        break;
      case "disarm":
        await control.disarm();
        await ctx.answerCallbackQuery({ text: "Disarmed: no alerts until /arm." });
        break;
      case "arm":
        await control.arm();
        await ctx.answerCallbackQuery({ text: "Armed." });
        break;
      default:
        await ctx.answerCallbackQuery({ text: STALE_BUTTON });
        return;
    }
    ctx.log.info({ action, sensor: sensor.id }, "door alert button pressed");
    const fresh = deps.sensors.sensors().find((s) => s.sensor.id === sensor.id)?.sensor;
    const markup = doorKeyboard(sensor.id, { mutedUntil: fresh?.mutedUntil ?? null, systemArmed: control.isArmed() }, deps.now(), deps.timeZone);
    await ctx.editMessageReplyMarkup({ reply_markup: markup }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
  }

  return composer;
}
