/** `/removecamera <camera>` (confirmed with buttons) and `/rename <camera> <new>`. */
import { Composer } from "grammy";
import { findCamera, unknownCameraError } from "../../domain/camera.js";
import { InputError } from "../../errors.js";
import { isNotModified } from "../api-errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { words } from "../format.js";
import { html } from "../html.js";
import { say } from "../reply.js";

/** A confirmation button older than this is answered, not obeyed: the situation may have changed. */
export const CONFIRM_TTL_MS = 10 * 60_000;

export function createCamerasFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  composer.command("removecamera", async (ctx) => {
    const args = words(ctx.match);
    if (args.length !== 1) throw new InputError("Use /removecamera followed by the camera's name.");
    const cameras = deps.control.cameras();
    const camera = findCamera(cameras, args[0]!);
    if (!camera) throw unknownCameraError(args[0]!, cameras);
    const issued = Math.floor(deps.now() / 1000).toString(36);
    await say(ctx, html`Remove <b>${camera.name}</b>? Its settings go with it.`, {
      reply_markup: { inline_keyboard: [[{ text: `Remove ${camera.name}`, callback_data: `rm:y:${camera.id}:${issued}` }, { text: "Keep it", callback_data: `rm:n:${camera.id}:${issued}` }]] },
    });
  });

  composer.callbackQuery(/^rm:([yn]):([A-Za-z0-9_-]{1,48}):([0-9a-z]{1,10})$/, async (ctx) => {
    const [, choice, cameraId, issued] = ctx.match;
    const finish = async (text: string) => {
      await ctx.editMessageText(html`${text}`.value, { parse_mode: "HTML" }).catch((error: unknown) => {
        if (!isNotModified(error)) throw error;
      });
    };
    if (deps.now() - parseInt(issued!, 36) * 1000 > CONFIRM_TTL_MS) {
      await ctx.answerCallbackQuery({ text: "This question has expired; send /removecamera again." });
      await finish("Expired: nothing was removed.");
      return;
    }
    const camera = deps.control.cameras().find((c) => c.id === cameraId);
    if (!camera) {
      await ctx.answerCallbackQuery({ text: "That camera is already gone." });
      await finish("That camera is already gone.");
      return;
    }
    if (choice === "n") {
      await ctx.answerCallbackQuery({ text: `Kept ${camera.name}.` });
      await finish(`Kept ${camera.name}.`);
      return;
    }
    await deps.control.removeCamera(camera.name);
    ctx.log.info({ camera: camera.id }, "camera removed");
    await ctx.answerCallbackQuery({ text: `Removed ${camera.name}.` });
    await finish(`Removed ${camera.name}.`);
  });

  composer.command("rename", async (ctx) => {
    const args = words(ctx.match);
    if (args.length !== 2) throw new InputError("Use /rename followed by the camera's name and its new name, for example /rename cam1 front_door.");
    const oldName = findCamera(deps.control.cameras(), args[0]!)?.name ?? args[0]!;
    const renamed = await deps.control.renameCamera(args[0]!, args[1]!);
    ctx.log.info({ camera: renamed.id }, "camera renamed");
    await say(ctx, html`${oldName} is now called ${renamed.name}.`);
  });

  return composer;
}
