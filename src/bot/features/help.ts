/** `/help` (and `/start` in a private chat): every command with what it does, from the same list as the menu. */
import { Composer } from "grammy";
import { SETTING_KEYS } from "../../domain/camera.js";
import { COMMANDS } from "../commands.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { html, joinHtml } from "../html.js";
import { say } from "../reply.js";

export function helpText(): ReturnType<typeof html> {
  return joinHtml([
    html`<b>Vigil</b>: your cameras, from this chat.`,
    html``,
    ...COMMANDS.map((c) => html`/${c.command}: ${c.description}`),
    html``,
    html`Settings for /set: ${SETTING_KEYS.join(", ")}. Send /set alone for what each one means.`,
    html`Modes: off (disarmed), home, away, night. Each camera alerts in the modes of its modes setting (by default home, away and night; an indoor camera: /set living modes away). /arm is away, /disarm is off.`,
    html`Schedules: /schedule night 23:00-07:00, /schedule away mon-fri 08:30-17:00; /schedule lists them, /schedule off removes them.`,
    html`Without a camera name, /arm, /disarm, /mute, /unmute, /set and /snapshot apply to every camera.`,
    html`Every alert has buttons: Mute 30 min, Mute 2 h, Snapshot and Disarm.`,
  ]);
}

export function createHelpFeature(_deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer.command("help", (ctx) => say(ctx, helpText()));
  composer.chatType("private").command("start", (ctx) => say(ctx, helpText()));
  return composer;
}
