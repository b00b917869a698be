/**
 * `/arm [camera|all]` and `/disarm [camera|all]`: without a camera, the mode
 * (`/arm` is `away`, `/disarm` is `off`); with one, that camera's own switch.
 */
import { Composer } from "grammy";
import type { ArmState } from "../../domain/control.js";
import { alertsIn } from "../../domain/modes.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { words } from "../format.js";
import { html, type Html } from "../html.js";
import { describeMode } from "../mode-view.js";
import { say } from "../reply.js";
import { chatSource } from "./modes.js";

/** What a person needs to know after an arm change: what will alert now, and what will not. */
export function describeArmState(state: ArmState, camera: string | undefined, now: number, timeZone: string | undefined): Html {
  const mode = state.mode.mode;
  if (camera) {
    const cam = state.cameras.find((c) => c.name.toLowerCase() === camera.toLowerCase());
    const name = cam?.name ?? camera;
    if (!cam?.armed) return mode !== "off" ? html`${name} is disarmed; the other cameras still alert.` : html`${name} is disarmed.`;
    if (mode === "off") return html`${name} is armed, but the system is disarmed: nothing alerts until /arm.`;
    return alertsIn(cam.modes, mode) ? html`${name} is armed.` : html`${name} is armed; it alerts in ${cam.modes.join(", ")}, and the mode is ${mode}.`;
  }
  return describeMode(state.mode, state.cameras, now, timeZone);
}

export function createArmFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  for (const verb of ["arm", "disarm"] as const) {
    composer.command(verb, async (ctx) => {
      const args = words(ctx.match);
      if (args.length > 1) throw new InputError(`Use /${verb} for every camera, or /${verb} followed by one camera name.`);
      const target = args[0] && args[0].toLowerCase() !== "all" ? args[0] : undefined;
      const by = chatSource(ctx.from);
      const state = verb === "arm" ? await deps.control.arm(target, by) : await deps.control.disarm(target, by);
      ctx.log.info({ verb, camera: target ?? "all" }, "arm state changed");
      await say(ctx, describeArmState(state, target, deps.now(), deps.timeZone));
    });
  }
  return composer;
}
