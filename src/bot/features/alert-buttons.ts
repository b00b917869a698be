/**
 * The buttons under every alert: `Mute 30 min`, `Mute 2 h`, `Snapshot`,
 * `Disarm` (and their undo: `Muted until 14:30 · Unmute`, `Disarmed · Arm`).
 * Each press is answered at once, then the buttons are redrawn from the new
 * state, so the message shows what is true now.
 */
import { Composer } from "grammy";
import { isNotModified } from "../api-errors.js";
import { alertButtonState, alertKeyboard, parseAlertButton } from "../alert-view.js";
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

  return composer;
}
