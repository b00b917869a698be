/** `/mute [camera] [30m|2h|1d]` and `/unmute [camera]`. Without a camera: every camera. */
import { Composer } from "grammy";
import { findCamera } from "../../domain/camera.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { formatClock, formatDuration, parseDuration, parseMuteDuration, words } from "../format.js";
import { html, shorten } from "../html.js";
import { say } from "../reply.js";

export const DEFAULT_MUTE_MS = 30 * 60_000;

export function createMuteFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  composer.command("mute", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 2) throw new InputError("Use /mute [camera] [duration], for example /mute, /mute cam1 or /mute cam1 2h.");
    const cameras = deps.control.cameras();
    let camera: string | undefined;
    let ms = DEFAULT_MUTE_MS;
    if (args.length === 2) {
      camera = args[0];
      ms = parseMuteDuration(args[1]!);
    } else if (args.length === 1) {
      const only = args[0]!;
      if (findCamera(cameras, only)) camera = only;
      else if (parseDuration(only) !== undefined) ms = parseMuteDuration(only);
      else throw new InputError(`"${shorten(only, 32)}" is neither a camera nor a duration like 30m, 2h or 1d.`);
    }
    const until = deps.now() + ms;
    const names = await deps.control.mute(camera, until);
    const when = `${formatClock(until, deps.now(), deps.timeZone)} (${formatDuration(ms)})`;
    ctx.log.info({ cameras: names.length, ms }, "muted");
    await say(ctx, camera === undefined ? html`Every camera (${names.join(", ")}) is muted until ${when}. /unmute ends it.` : html`${names[0] ?? camera} is muted until ${when}. /unmute ${names[0] ?? camera} ends it.`);
  });

  composer.command("unmute", async (ctx) => {
    const args = words(ctx.match);
    if (args.length > 1) throw new InputError("Use /unmute for every camera, or /unmute followed by one camera name.");
    const camera = args[0] && args[0].toLowerCase() !== "all" ? args[0] : undefined;
    const names = await deps.control.mute(camera, null);
    ctx.log.info({ cameras: names.length }, "unmuted");
    await say(ctx, camera === undefined ? html`Every camera alerts again${names.length ? ` (${names.join(", ")})` : ""}.` : html`${names[0] ?? camera} alerts again.`);
  });

  return composer;
}
