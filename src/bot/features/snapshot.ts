/** `/snapshot [camera|all]`: the current annotated frame; several cameras as one album. */
import { Composer, InputFile, InputMediaBuilder, type Context } from "grammy";
import type { Camera } from "../../domain/camera.js";
import type { Snapshot } from "../../domain/control.js";
import { InputError, userMessage } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { formatClockSeconds, words } from "../format.js";
import { html, joinHtml } from "../html.js";
import { say } from "../reply.js";

const ALBUM_MAX = 10; // Telegram's limit per media group

export function snapshotCaption(snapshot: Snapshot, now: number, timeZone: string | undefined): string {
  return html`<b>${snapshot.cameraName}</b> · ${formatClockSeconds(snapshot.at, now, timeZone)}`.value;
}

/** Sends one camera's snapshot as a photo (used by /snapshot and the alert's Snapshot button). */
export async function replySnapshot(ctx: Context, deps: FeatureDeps, camera: string, replyTo?: number): Promise<void> {
  const snapshot = await deps.control.snapshot(camera);
  await ctx.replyWithPhoto(new InputFile(snapshot.jpeg, `${snapshot.cameraName}.jpg`), {
    caption: snapshotCaption(snapshot, deps.now(), deps.timeZone),
    parse_mode: "HTML",
    ...(replyTo !== undefined ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
  });
}

export function createSnapshotFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer.command("snapshot", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /snapshot for every camera, or /snapshot followed by one camera name.");
    const cameras = deps.control.cameras();
    if (args[0] && args[0].toLowerCase() !== "all") return replySnapshot(ctx, deps, args[0]);
    if (cameras.length === 0) throw new InputError("There are no cameras yet; add one with /addcamera.");
    if (cameras.length === 1) return replySnapshot(ctx, deps, cameras[0]!.name);
    await replyAlbum(ctx, deps, cameras);
  });
  return composer;
}

async function replyAlbum(ctx: Context, deps: FeatureDeps, cameras: readonly Camera[]): Promise<void> {
  const results = await Promise.allSettled(cameras.map((c) => deps.control.snapshot(c.name)));
  const now = deps.now();
  const shots = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === "rejected" ? [html`${cameras[i]!.name}: ${userMessage(r.reason)}`] : []));
  for (let i = 0; i < shots.length; i += ALBUM_MAX) {
    const chunk = shots.slice(i, i + ALBUM_MAX);
    if (chunk.length === 1) {
      await ctx.replyWithPhoto(new InputFile(chunk[0]!.jpeg, `${chunk[0]!.cameraName}.jpg`), { caption: snapshotCaption(chunk[0]!, now, deps.timeZone), parse_mode: "HTML" });
    } else {
      await ctx.replyWithMediaGroup(chunk.map((s) => InputMediaBuilder.photo(new InputFile(s.jpeg, `${s.cameraName}.jpg`), { caption: snapshotCaption(s, now, deps.timeZone), parse_mode: "HTML" })));
    }
  }
  if (failed.length) await say(ctx, joinHtml([html`No picture from:`, ...failed]));
}
