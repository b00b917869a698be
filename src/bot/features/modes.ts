/**
 * `/mode [off|home|away|night]` (and its buttons), `/exitdelay [45s|2m|off]`
 * and `/quiet [22:00-07:00|off]`. A person's change of mode says who made it;
 * buttons are answered at once and redrawn from the mode now in force.
 */
import { Composer } from "grammy";
import type { User } from "grammy/types";
import { parseExitDelay, parseMode, type ModeSource } from "../../domain/modes.js";
import { formatWindow, parseWindow } from "../../domain/schedule.js";
import { InputError } from "../../errors.js";
import { isNotModified } from "../api-errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { fullName, words } from "../format.js";
import { html } from "../html.js";
import { describeMode, modeKeyboard, modeLabel, modeText, type ModeCamera } from "../mode-view.js";
import { say } from "../reply.js";

/** The person behind a command or a press, as the mode remembers them. */
export function chatSource(user: User | undefined): ModeSource {
  return user ? { kind: "chat", userId: user.id, name: fullName(user) } : { kind: "chat" };
}

export function modeCameras(deps: Pick<FeatureDeps, "control">): ModeCamera[] {
  return deps.control.cameras().map((c) => ({ name: c.name, armed: c.armed, modes: c.settings.modes }));
}

export function createModesFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { control } = deps;

  composer.command("mode", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /mode to see the mode, or /mode followed by off, home, away or night.");
    if (args.length === 1) {
      const mode = parseMode(args[0]!);
      const view = await control.setMode(mode, chatSource(ctx.from));
      ctx.log.info({ mode }, "mode set");
      return say(ctx, describeMode(view, modeCameras(deps), deps.now(), deps.timeZone), { reply_markup: modeKeyboard(view.mode) });
    }
    const view = control.mode();
    await say(ctx, modeText(view, modeCameras(deps), deps.now(), deps.timeZone), { reply_markup: modeKeyboard(view.mode) });
  });

  composer.callbackQuery(/^md:(off|home|away|night)$/, async (ctx) => {
    const mode = parseMode(ctx.match[1]!);
    const view = await control.setMode(mode, chatSource(ctx.from));
    ctx.log.info({ mode }, "mode set by a button");
    await ctx.answerCallbackQuery({ text: mode === "off" ? "Disarmed." : `${modeLabel(mode)}.` });
    await ctx.editMessageText(modeText(view, modeCameras(deps), deps.now(), deps.timeZone).value, { parse_mode: "HTML", reply_markup: modeKeyboard(view.mode) }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
  });

  composer.command("exitdelay", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /exitdelay followed by seconds or minutes (like 45s or 2m), or off.");
    if (args.length === 0) {
      const s = control.mode().exitDelay;
      return say(ctx, s > 0 ? html`Exit delay ${s} s: after someone arms, nothing that comes into view in that time alerts. /exitdelay off removes it.` : html`No exit delay: alerts start as soon as someone arms. /exitdelay 60s gives a minute to leave.`);
    }
    const seconds = parseExitDelay(args[0]!);
    await control.setExitDelay(seconds);
    ctx.log.info({ seconds }, "exit delay set");
    await say(ctx, seconds > 0 ? html`Exit delay ${seconds} s: after /arm, /mode or an alert's Arm button, nothing that comes into view in the next ${seconds} s alerts, even if it is still there afterwards.` : html`No exit delay: alerts start as soon as someone arms.`);
  });

  composer.command("quiet", async (ctx) => {
    const text = (ctx.match ?? "").trim();
    if (text === "") {
      const quiet = control.mode().quietHours;
      return say(ctx, quiet ? html`Quiet hours ${formatWindow(quiet)} (${control.mode().timeZone}): alerts then come without a sound. /quiet off ends them.` : html`No quiet hours: every alert notifies. /quiet 22:00-07:00 sends alerts silently at night.`);
    }
    if (["off", "none"].includes(text.toLowerCase())) {
      await control.setQuietHours(null);
      return say(ctx, html`No quiet hours: every alert notifies.`);
    }
    const window = parseWindow(text);
    await control.setQuietHours(window);
    ctx.log.info("quiet hours set");
    await say(ctx, html`Quiet hours ${formatWindow(window)} (${control.mode().timeZone}): alerts then still come, without a sound.`);
  });

  return composer;
}
