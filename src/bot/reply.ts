/** Sending HTML replies the same way everywhere. */
import type { Context } from "grammy";
import type { Html } from "./html.js";

type ReplyOther = NonNullable<Parameters<Context["reply"]>[1]>;

/**
 * Replies with HTML, without link previews; in a group, as a reply to the
 * command, so it is clear whom it answers (and in a forum, grammY keeps the topic).
 */
export function say(ctx: Context, text: Html, other: ReplyOther = {}): ReturnType<Context["reply"]> {
  const quote = ctx.chat?.type !== "private" && ctx.msg && !ctx.callbackQuery ? { reply_parameters: { message_id: ctx.msg.message_id, allow_sending_without_reply: true } } : {};
  return ctx.reply(text.value, { parse_mode: "HTML", link_preview_options: { is_disabled: true }, ...quote, ...other });
}
