/**
 * The gate. Below it, only admins in served chats get through: the alert chats,
 * and an admin's private chat with the bot. Anyone else gets a short refusal in
 * a private chat and silence in a group (a reply there would tell the whole
 * group what the bot is); button presses are always answered, never obeyed.
 */
import { Composer } from "grammy";
import type { BotContext, FeatureDeps } from "../context.js";
import { fullName } from "../format.js";
import { html } from "../html.js";
import { say } from "../reply.js";

export const REFUSAL = "This is a private Vigil: it only takes commands from its admins.";
export const BUTTON_REFUSAL = "Only Vigil's admins can use these buttons.";
export const STALE_BUTTON = "This button is not valid any more.";

export function createAccessGate(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  composer.use(async (ctx, next) => {
    const chat = ctx.chat;
    const user = ctx.from;
    if (!chat || !user || user.is_bot) return; // channel posts, service updates, other bots
    const admin = deps.access.isAdmin(user.id);
    const served = deps.access.isChat(chat.id) || (chat.type === "private" && admin);
    if (admin && served) {
      // A press must name a button the message really has: anything else is forged or stale data.
      if (ctx.callbackQuery && !pressedRealButton(ctx)) {
        await ctx.answerCallbackQuery({ text: STALE_BUTTON });
        return;
      }
      return next();
    }
    if (ctx.callbackQuery) {
      await ctx.answerCallbackQuery({ text: admin ? "This chat is not one of Vigil's." : BUTTON_REFUSAL });
      return;
    }
    if (chat.type === "private" && ctx.message) await say(ctx, html`${REFUSAL}`);
  });
  return composer;
}

function pressedRealButton(ctx: BotContext): boolean {
  const query = ctx.callbackQuery;
  if (!query?.data || !query.message || !("reply_markup" in query.message)) return false;
  return (query.message.reply_markup?.inline_keyboard ?? []).flat().some((b) => "callback_data" in b && b.callback_data === query.data);
}

/** Remembers who wrote recently (id by @username), so `/admins add @name` can find them. */
export function createSeenUsersMiddleware(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const MAX = 1000;
  composer.use(async (ctx, next) => {
    const user = ctx.from;
    if (user?.username && !user.is_bot) {
      const key = user.username.toLowerCase();
      deps.seenUsers.delete(key); // re-insert: the Map's order is the LRU order
      deps.seenUsers.set(key, { id: user.id, username: user.username, name: fullName(user) });
      if (deps.seenUsers.size > MAX) deps.seenUsers.delete(deps.seenUsers.keys().next().value!);
    }
    await next();
  });
  return composer;
}
