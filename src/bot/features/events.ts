/**
 * `/events [n]`: one picture of the last events (snapshots and a 24-hour strip)
 * with a button per stored clip; `/clip <camera> [seconds]`: the next seconds of
 * a camera as a video. Both come from the recorder through the Control.
 */
import { Composer, InputFile, type Context } from "grammy";
import type { InlineKeyboardButton } from "grammy/types";
import { findCamera, unknownCameraError } from "../../domain/camera.js";
import type { VideoClip } from "../../domain/recorder.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { visitWhat } from "../../domain/labels.js";
import { formatClock, formatClockSeconds, formatDuration, words } from "../format.js";
import { html, joinHtml, type Html } from "../html.js";
import { say } from "../reply.js";
import { sensorTitle } from "../alert-view.js";

const BUTTONS_PER_ROW = 4;

/** A number a person typed, or NaN (the recorder then says what is accepted). */
function count(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
}

/** Sends a clip as a video, replying to `replyTo` when given. */
export async function replyClip(ctx: Context, clip: VideoClip, caption: string, replyTo?: number): Promise<void> {
  await ctx.replyWithVideo(new InputFile(clip.mp4, "clip.mp4"), {
    caption,
    parse_mode: "HTML",
    width: clip.width,
    height: clip.height,
    duration: Math.round(clip.durationSeconds),
    supports_streaming: true,
    ...(replyTo !== undefined ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
  });
}

/** The door lines under the events, as many as fit in a photo caption (1024 characters). */
function withDoors(caption: Html, doors: Html[]): Html {
  let out = caption;
  for (const [i, line] of doors.entries()) {
    const next = joinHtml(i === 0 ? [out, html`<b>Doors, last 24 h</b>`, line] : [out, line]);
    if (next.value.length > 1000) break;
    out = next;
  }
  return out;
}

export function createEventsFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const tz = deps.timeZone;

  composer.command("events", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /events, or /events followed by how many (1 to 16).");
    const picture = await deps.control.events(count(args[0]));
    const now = deps.now();
    const doorLines = picture.doors.map((d) => html`${formatClock(d.at, now, tz)} · ${sensorTitle(d.sensorName)} ${d.state === "open" ? "opened" : "closed"}${d.alerted ? " (alert)" : ""}`);
    if (picture.events.length === 0) return say(ctx, doorLines.length ? joinHtml([html`No camera events yet. <b>Doors, last 24 h</b>`, ...doorLines]) : html`No events yet.`);
    const lines = picture.events.map((e, i) => html`${i + 1} · ${formatClock(e.at, now, tz)} · ${e.cameraName} · ${e.motionOnly ? "motion" : `${visitWhat(e.label, e.counts)} ${Math.round(e.score * 100)}%`}${e.endedAt !== undefined && e.endedAt - e.startedAt >= 60_000 ? ` · ${formatDuration(e.endedAt - e.startedAt)}` : ""}${e.clip ? ` · ${Math.round(e.clip.durationSeconds)} s clip` : ""}`);
    const buttons: InlineKeyboardButton[] = picture.events.flatMap((e, i) => (e.clip ? [{ text: `Clip ${i + 1}`, callback_data: `ev:${e.id}` }] : []));
    const rows: InlineKeyboardButton[][] = [];
    for (let i = 0; i < buttons.length; i += BUTTONS_PER_ROW) rows.push(buttons.slice(i, i + BUTTONS_PER_ROW));
    await ctx.replyWithPhoto(new InputFile(picture.jpeg, "events.jpg"), {
      caption: withDoors(joinHtml([html`<b>The last ${picture.events.length} event${picture.events.length === 1 ? "" : "s"}</b>`, ...lines]), doorLines).value,
      parse_mode: "HTML",
      ...(rows.length ? { reply_markup: { inline_keyboard: rows } } : {}),
    });
  });

  composer.callbackQuery(/^ev:([A-Za-z0-9_-]{1,61})$/, async (ctx) => {
    const alertId = ctx.match[1]!;
    await ctx.answerCallbackQuery({ text: "Sending the clip…" });
    const clip = await deps.control.eventClip(alertId);
    await replyClip(ctx, clip, html`The event's clip · ${Math.round(clip.durationSeconds)} s`.value, ctx.callbackQuery.message?.message_id);
  });

  composer.command("clip", async (ctx) => {
    const args = words(ctx.match);
    const cameras = deps.control.cameras();
    if (args.length > 2 || (args.length === 0 && cameras.length !== 1)) throw new InputError("Use /clip followed by a camera name and, if you like, seconds (1 to 60), for example /clip cam1 20.");
    const camera = args[0] === undefined ? cameras[0] : findCamera(cameras, args[0]);
    if (!camera) throw unknownCameraError(args[0] ?? "", cameras);
    const seconds = count(args[1]);
    // The recorder's bounds, checked before "Recording…" is said.
    if (seconds !== undefined && !(seconds >= 1 && seconds <= 60)) throw new InputError("A clip is 1 to 60 whole seconds long.");
    const started = deps.now();
    // A clip takes as long as it lasts: say so at once.
    await say(ctx, html`Recording ${seconds ?? 10} s from ${camera.name}…`);
    const clip = await deps.control.clip(camera.name, seconds);
    await replyClip(ctx, clip, html`<b>${camera.name}</b> · ${formatClockSeconds(started, deps.now(), tz)} · ${Math.round(clip.durationSeconds)} s`.value);
  });

  return composer;
}
