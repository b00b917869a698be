/**
 * Last in the chain: whatever no feature took. Unknown commands get one line
 * pointing to /help; an edited command is not run again (the edit may change
 * its meaning after the fact); a press no feature knows is answered, never
 * obeyed; stray text in a group gets silence.
 */
import { Composer } from "grammy";
import type { BotContext, FeatureDeps } from "../context.js";
import { html, shorten } from "../html.js";
import { say } from "../reply.js";
import { STALE_BUTTON } from "./access.js";

const COMMAND = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]+))?/;

export function createUnhandledFeature(_deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();

  composer.on("callback_query", (ctx) => ctx.answerCallbackQuery({ text: STALE_BUTTON }));

  composer.on("edited_message:text", async (ctx) => {
    const command = COMMAND.exec(ctx.editedMessage.text);
    if (!command || (command[2] && command[2].toLowerCase() !== ctx.me.username.toLowerCase())) return;
    await say(ctx, html`I do not act on edited messages; send the command again as a new message.`);
  });

  composer.on("message:text", async (ctx) => {
    const command = COMMAND.exec(ctx.msg.text);
    if (!command) {
      if (ctx.chat.type === "private") await say(ctx, html`Send /help to see what I can do.`);
      return;
    }
    if (command[2] && command[2].toLowerCase() !== ctx.me.username.toLowerCase()) return; // for another bot
    await say(ctx, html`There is no command /${shorten(command[1]!, 32)}; /help lists what Vigil understands.`);
  });

  return composer;
}
