/**
 * The error boundary's handler. A VigilError (InputError, CameraConnectError,
 * ...) is the one sentence the user sees; anything else is logged in detail
 * (never with the token) and the user gets a generic sentence. Nothing escapes:
 * one bad update never stops the bot.
 */
import type { BotError } from "grammy";
import { userMessage, VigilError } from "../errors.js";
import { describeApiError } from "./api-errors.js";
import type { BotContext } from "./context.js";
import { html, shorten } from "./html.js";
import { say } from "./reply.js";

export function createErrorHandler(token: string): (error: BotError<BotContext>) => Promise<void> {
  return async ({ ctx, error }) => {
    const sentence = userMessage(error);
    if (error instanceof VigilError) ctx.log.info({ error: error.name }, "refused with a sentence");
    else ctx.log.error({ error: describeApiError(error, token) }, "handling an update failed");
    try {
      if (ctx.callbackQuery) {
        const answered = await ctx.answerCallbackQuery({ text: shorten(sentence, 190), show_alert: true }).then(
          () => true,
          () => false, // already answered: say it in the chat instead
        );
        if (answered) return;
      }
      if (ctx.chat) await say(ctx, html`${sentence}`);
    } catch (replyError) {
      ctx.log.warn({ error: describeApiError(replyError, token) }, "could not tell the user about the failure");
    }
  };
}
