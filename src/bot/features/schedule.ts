/**
 * `/schedule` lists the schedules with a button to remove each;
 * `/schedule night 23:00-07:00` and `/schedule away mon-fri 08:30-17:00` add
 * one; `/schedule off` removes them all. Removing never changes the mode in
 * force: it stays until someone, or another schedule, changes it.
 */
import { Composer } from "grammy";
import { formatSchedule, parseSchedule } from "../../domain/schedule.js";
import { isNotModified } from "../api-errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { html } from "../html.js";
import { modeLabel, nextText, scheduleList } from "../mode-view.js";
import { say } from "../reply.js";

export function createScheduleFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { control } = deps;

  composer.command("schedule", async (ctx) => {
    const text = (ctx.match ?? "").trim();
    if (text === "") {
      const list = scheduleList(control.mode(), deps.now());
      return say(ctx, list.text, { reply_markup: list.keyboard });
    }
    if (["off", "clear", "none"].includes(text.toLowerCase())) {
      const removed = await control.clearSchedules();
      ctx.log.info({ removed }, "schedules cleared");
      const mode = modeLabel(control.mode().mode).toLowerCase();
      return say(ctx, removed === 0 ? html`There were no schedules.` : html`Removed ${removed === 1 ? "the schedule" : `all ${removed} schedules`}. The mode stays ${mode} until someone changes it.`);
    }
    const { mode, window } = parseSchedule(text);
    const schedule = await control.addSchedule(mode, window);
    ctx.log.info({ mode }, "schedule added");
    const view = control.mode();
    const next = nextText(view, deps.now(), deps.timeZone);
    await say(ctx, html`Schedule added: ${formatSchedule(schedule)} (${view.timeZone}).${next ? ` ${next}` : ""}`);
  });

  composer.callbackQuery(/^sc:rm:([0-9a-f]{1,16})$/, async (ctx) => {
    const removed = await control.removeSchedule(ctx.match[1]!);
    await ctx.answerCallbackQuery({ text: removed ? `Removed ${formatSchedule(removed)}.` : "That schedule is already gone." });
    if (removed) ctx.log.info({ mode: removed.mode }, "schedule removed");
    const list = scheduleList(control.mode(), deps.now());
    await ctx.editMessageText(list.text.value, { parse_mode: "HTML", reply_markup: list.keyboard }).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
  });

  return composer;
}
