/**
 * `/admins`, `/admins add`, `/admins remove`: by replying to someone's message,
 * by @username (someone Vigil has seen write), or by picking the person from
 * Telegram's mention list. Bots cannot be admins; the last admin cannot go.
 */
import { Composer } from "grammy";
import type { MessageEntity } from "grammy/types";
import { InputError } from "../../errors.js";
import type { Admin } from "../../store/index.js";
import type { BotContext, FeatureDeps } from "../context.js";
import { fullName, personName, words } from "../format.js";
import { html, joinHtml, shorten } from "../html.js";
import { say } from "../reply.js";

const MEMBER_STATUSES = new Set(["creator", "administrator", "member", "restricted"]);

function adminFromUser(user: { id: number; username?: string; first_name: string; last_name?: string }): Admin {
  return { id: user.id, username: user.username, name: fullName(user) };
}

/** Who the command is about: the replied-to author, a picked user, an @username, or (for remove) a numeric id. */
function resolveTarget(ctx: BotContext, deps: FeatureDeps, arg: string | undefined): Admin | undefined {
  const msg = ctx.msg;
  const replied = msg?.reply_to_message?.from;
  if (replied && !arg) {
    if (replied.is_bot) throw new InputError("Bots cannot be Vigil admins.");
    return adminFromUser(replied);
  }
  const picked = (msg?.entities ?? []).find((e): e is MessageEntity.TextMentionMessageEntity => e.type === "text_mention");
  if (picked) return adminFromUser(picked.user);
  if (!arg) return undefined;
  if (arg.startsWith("@")) {
    const key = arg.slice(1).toLowerCase();
    const seen = deps.seenUsers.get(key);
    if (seen) return { id: seen.id, username: seen.username, name: seen.name };
    return deps.access.admins().find((a) => a.username?.toLowerCase() === key);
  }
  if (/^\d{1,15}$/.test(arg)) return deps.access.admins().find((a) => a.id === Number(arg));
  return undefined;
}

export function createAdminsFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const { access } = deps;

  composer.command("admins", async (ctx) => {
    const [verb, arg, ...rest] = words(ctx.match);
    if (!verb) {
      return say(ctx, joinHtml([html`<b>Admins</b>`, ...access.admins().map((a) => html`${personName(a)} · id ${a.id}`), html``, html`Add one by replying to their message with /admins add, or /admins add @username.`]));
    }
    const action = verb.toLowerCase();
    if ((action !== "add" && action !== "remove") || rest.length) throw new InputError("Use /admins, /admins add or /admins remove, replying to the person's message or followed by their @username.");
    const target = resolveTarget(ctx, deps, arg);
    if (!target) {
      throw new InputError(
        arg?.startsWith("@")
          ? `I have not seen ${shorten(arg, 33)} write yet: ask them to send any command here, or reply to one of their messages with /admins ${action}.`
          : `Reply to the person's message with /admins ${action}, or give their @username.`,
      );
    }
    if (action === "add") {
      if (ctx.chat?.type !== "private") {
        const member = await ctx.getChatMember(target.id).catch(() => undefined);
        if (!member || !MEMBER_STATUSES.has(member.status)) throw new InputError(`${personName(target)} is not a member of this chat.`);
        if (member.user.is_bot) throw new InputError("Bots cannot be Vigil admins.");
      }
      if (access.isAdmin(target.id)) return say(ctx, html`${personName(target)} is already an admin.`);
      await access.addAdmin(target);
      ctx.log.info({ admin: target.id }, "admin added");
      return say(ctx, html`${personName(target)} is now a Vigil admin.`);
    }
    if (!access.isAdmin(target.id)) return say(ctx, html`${personName(target)} is not an admin.`);
    await access.removeAdmin(target.id);
    ctx.log.info({ admin: target.id }, "admin removed");
    await say(ctx, html`${personName(target)} is no longer a Vigil admin.`);
  });

  return composer;
}
