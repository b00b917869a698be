/**
 * `/claim <code>`: the one command anyone may send. Vigil prints a single-use,
 * expiring code on its first start; whoever sends it becomes the first admin,
 * and the chat (and forum topic) it was sent in becomes the alert chat. Wrong
 * guesses are answered (a person who mistyped needs to know) but limited per
 * user, so the code cannot be guessed through the bot.
 *
 * Also follows a group that Telegram migrates to a supergroup (its id changes).
 */
import { Composer } from "grammy";
import type { BotContext, FeatureDeps } from "../context.js";
import { fullName, personName, words } from "../format.js";
import { html } from "../html.js";
import { say } from "../reply.js";

const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 10 * 60_000;

export function createClaimFeature(deps: FeatureDeps): Composer<BotContext> {
  const composer = new Composer<BotContext>();
  const failures = new Map<number, number[]>();

  composer.command("claim", async (ctx, next) => {
    const { access } = deps;
    const now = deps.now();
    if (!ctx.from || !ctx.chat) return;
    if (access.isAdmin(ctx.from.id) && access.isChat(ctx.chat.id)) {
      await say(ctx, html`This chat already gets Vigil's alerts.`);
      return;
    }
    if (!access.hasPendingClaim(now)) {
      if (access.isAdmin(ctx.from.id)) {
        await say(ctx, html`Vigil already has its alert chat: /claim is for the first start only.`);
        return;
      }
      return next(); // no code is waiting: from anyone else, /claim is like any other command
    }
    const recent = (failures.get(ctx.from.id) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    if (recent.length >= MAX_FAILURES) return; // guessing: stop answering for a while
    const code = words(ctx.match)[0] ?? "";
    if (!code || code.length > 64 || !(await access.redeemClaim(code, now))) {
      failures.set(ctx.from.id, [...recent, now]);
      ctx.log.warn({ user: ctx.from.id }, "wrong claim code");
      await say(ctx, html`That claim code is not valid: it is wrong, already used or expired. Restart Vigil to print a new one.`);
      return;
    }
    const threadId = ctx.msg?.is_topic_message ? ctx.msg.message_thread_id : undefined;
    const title = "title" in ctx.chat ? ctx.chat.title : undefined;
    await access.addChat({ id: ctx.chat.id, threadId, title });
    await access.addAdmin({ id: ctx.from.id, username: ctx.from.username, name: fullName(ctx.from) });
    ctx.log.info({ chat: ctx.chat.id, thread: threadId, admin: ctx.from.id }, "claimed: alert chat and first admin set");
    const where = ctx.chat.type === "private" ? "this chat" : threadId !== undefined ? "this topic" : "this group";
    await say(ctx, html`Vigil is yours. Alerts will come to ${where}, and you, ${personName(ctx.from)}, are its first admin.\nNext: /addcamera to add a camera, /help for everything else.`);
  });

  composer.on("message:migrate_to_chat_id", async (ctx) => {
    const from = ctx.chat.id;
    const to = ctx.msg.migrate_to_chat_id;
    if (!deps.access.isChat(from)) return;
    await followMigration(deps, from, to);
    ctx.log.info({ from, to }, "the alert group became a supergroup; following it");
  });

  return composer;
}

/** Moves the alert chat (and what is queued for it) to the supergroup a group became. */
export async function followMigration(deps: Pick<FeatureDeps, "access" | "outbox">, from: number, to: number): Promise<void> {
  const chat = deps.access.chats().find((c) => c.id === from);
  if (chat) {
    await deps.access.addChat({ ...chat, id: to });
    await deps.access.removeChat(from);
  }
  await deps.outbox.retarget(from, to);
}

/** Single-use claim codes last this long. */
export const CLAIM_CODE_TTL_MS = 24 * 60 * 60_000;

/** The line `vigil start` prints on a first start. */
export function claimLine(code: string): string {
  return `Send this in your Telegram group to make it Vigil's: /claim ${code}`;
}
