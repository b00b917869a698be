/** `/arm [camera|all]` and `/disarm [camera|all]`: the system's switch, or one camera's own. */
import { Composer } from "grammy";
import type { ArmState } from "../../domain/control.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { words } from "../format.js";
import { html, type Html } from "../html.js";
import { say } from "../reply.js";

/** What a person needs to know after an arm change: what will alert now, and what will not. */
export function describeArmState(state: ArmState, camera: string | undefined): Html {
  const on = state.cameras.filter((c) => c.armed).map((c) => c.name);
  const off = state.cameras.filter((c) => !c.armed).map((c) => c.name);
  if (camera) {
    const cam = state.cameras.find((c) => c.name.toLowerCase() === camera.toLowerCase());
    const name = cam?.name ?? camera;
    if (!cam?.armed) return state.systemArmed ? html`${name} is disarmed; the other cameras still alert.` : html`${name} is disarmed.`;
    return state.systemArmed ? html`${name} is armed.` : html`${name} is armed, but the system is disarmed: nothing alerts until /arm.`;
  }
  if (!state.systemArmed) return html`Disarmed: no alerts until /arm.`;
  if (state.cameras.length === 0) return html`Armed. There are no cameras yet: add one with /addcamera.`;
  if (on.length === 0) return html`Armed, but every camera is disarmed on its own: send /arm followed by a camera name.`;
  return off.length ? html`Armed: ${on.join(", ")} will alert here. Disarmed on their own: ${off.join(", ")}.` : html`Armed: ${on.join(", ")} will alert here.`;
}

export function createArmFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  for (const verb of ["arm", "disarm"] as const) {
    composer.command(verb, async (ctx) => {
      const args = words(ctx.match);
      if (args.length > 1) throw new InputError(`Use /${verb} for every camera, or /${verb} followed by one camera name.`);
      const target = args[0] && args[0].toLowerCase() !== "all" ? args[0] : undefined;
      const state = verb === "arm" ? await deps.control.arm(target) : await deps.control.disarm(target);
      ctx.log.info({ verb, camera: target ?? "all" }, "arm state changed");
      await say(ctx, describeArmState(state, target));
    });
  }
  return composer;
}
