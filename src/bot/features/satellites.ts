/**
 * `/satellites`: the boxes that run cameras for this hub, with their cameras,
 * health and versions, and those waiting to be adopted. `/adopt <site> <code>`:
 * an admin adopts one with the one-time code it printed (never automatic).
 * `/satellites remove <site>`: forgets one. Admins only, like every command.
 */
import { Composer } from "grammy";
import type { SatelliteView } from "../../domain/satellites.js";
import { InputError } from "../../errors.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { formatClock, formatDuration, personName, words } from "../format.js";
import { html, joinHtml, type Html } from "../html.js";
import { say } from "../reply.js";

const NOT_A_HUB = "Satellites meet the hub on the MQTT broker: set it up first with `vigil mqtt set` on this box, and restart Vigil.";

export function satelliteLines(view: SatelliteView, now: number, tz: string | undefined): Html[] {
  if (view.state === "waiting") {
    return [html`<b>${view.site}</b>: waiting to be adopted (Vigil ${view.version ?? "?"}, announced ${view.lastHeardAt ? formatClock(view.lastHeardAt, now, tz) : "?"}): send /adopt ${view.site} followed by the code it printed.`];
  }
  const heard = view.lastHeardAt ? `heard ${formatDuration(now - view.lastHeardAt)} ago` : "not heard yet";
  const head = view.silent ? `silent, last heard ${view.lastHeardAt ? formatClock(view.lastHeardAt, now, tz) : "never"}` : heard;
  const parts = [head, `Vigil ${view.version ?? "?"}`];
  if (view.detector) parts.push(view.detector.ok ? `detector ${view.detector.model} working` : `detector not working${view.detector.reason ? ` (${view.detector.reason})` : ""}`);
  if (view.queued) parts.push(`${view.queued} event(s) on their way`);
  const cameras = view.cameras.length ? view.cameras.map((c) => `${c.name}${c.state ? ` (${c.state})` : ""}`).join(", ") : "no cameras";
  return [html`<b>${view.site}</b>: ${parts.join(" · ")}`, html`${cameras}`];
}

export function createSatellitesFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const tz = deps.timeZone;

  composer.command("satellites", async (ctx) => {
    const satellites = deps.satellites;
    if (!satellites) throw new InputError(NOT_A_HUB);
    const args = words(ctx.match);
    if (args[0]?.toLowerCase() === "remove") {
      if (args.length !== 2) throw new InputError("Use /satellites remove followed by the satellite's name.");
      const site = await satellites.remove(args[1]!);
      ctx.log.info({ site }, "satellite removed from the chat");
      return say(ctx, html`The satellite ${site} is removed: its messages are ignored from now on. To have it back, run \`vigil satellite join\` on it again and adopt it.`);
    }
    if (args.length) throw new InputError("Use /satellites to list them, or /satellites remove followed by a satellite's name.");
    const list = satellites.list();
    if (list.length === 0) return say(ctx, html`No satellites yet. On another box with cameras, run \`vigil satellite join mqtt://BROKER:1883 --site NAME\`, start it, and send the /adopt line it prints here.`);
    const now = deps.now();
    await say(ctx, joinHtml(list.flatMap((view, i) => [...(i ? [html``] : []), ...satelliteLines(view, now, tz)])));
  });

  composer.command("adopt", async (ctx) => {
    const satellites = deps.satellites;
    if (!satellites) throw new InputError(NOT_A_HUB);
    const args = words(ctx.match);
    if (args.length !== 2) throw new InputError("Use /adopt followed by the satellite's name and the code it printed, like /adopt garage abcde-fghjk.");
    await ctx.replyWithChatAction("typing").catch(() => undefined);
    const by = ctx.from ? personName(ctx.from) : "an admin";
    const result = await satellites.adopt(args[0]!, args[1]!, by);
    ctx.log.info({ site: result.site }, "satellite adopted from the chat");
    await say(ctx, result.cameras === undefined ? html`The satellite ${result.site} is adopted. It has not answered yet; its cameras appear in /status when it does.` : html`The satellite ${result.site} is adopted; its cameras: ${result.cameras.length ? result.cameras.join(", ") : "none yet"}.`);
  });

  return composer;
}
