/**
 * `/set [camera] <setting> <value>`. Parsing and bounds live in the domain
 * (`parseSetting`), so a wrong value reads the same here, in the CLI and in
 * tests. Without a camera the setting applies to every camera, and the reply
 * says so.
 */
import { Composer } from "grammy";
import { findCamera, isSettingKey, SETTING_HELP, SETTING_KEYS, unknownCameraError } from "../../domain/camera.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { words } from "../format.js";
import { html, joinHtml, shorten } from "../html.js";
import { say } from "../reply.js";

export function createSettingsFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  composer.command("set", async (ctx) => {
    const args = words(ctx.match);
    if (args.length === 0) {
      return say(ctx, joinHtml([html`/set [camera] ${"<setting> <value>"}: without a camera it changes every camera. For example: /set sensitivity 5000`, html``, ...SETTING_KEYS.map((k) => html`<b>${k}</b>: ${SETTING_HELP[k]}`)]));
    }
    const cameras = deps.control.cameras();
    const [first, second] = [args[0]!, args[1]];
    let camera: string | undefined;
    let key: string;
    let value: string;
    if (second !== undefined && isSettingKey(second.toLowerCase()) && (findCamera(cameras, first) || !isSettingKey(first.toLowerCase()))) {
      if (!findCamera(cameras, first)) throw unknownCameraError(first, cameras);
      camera = first;
      key = second;
      value = args.slice(2).join(" ");
    } else {
      if (!isSettingKey(first.toLowerCase())) throw new InputError(`There is no setting or camera called "${shorten(first, 20)}"; the settings are ${SETTING_KEYS.join(", ")}.`);
      key = first;
      value = args.slice(1).join(" ");
    }
    const result = await deps.control.setSetting(camera, key, value);
    const name = key.toLowerCase();
    ctx.log.info({ setting: name, cameras: result.cameras.length }, "setting changed");
    const where = camera === undefined ? html`every camera (${result.cameras.join(", ")})` : html`${result.cameras[0] ?? camera}`;
    await say(ctx, html`${name} is now ${result.display} on ${where}.`);
  });

  return composer;
}
