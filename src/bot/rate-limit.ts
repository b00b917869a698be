/**
 * Telegram's flood limits, kept on our side so that alerts are not met with 429:
 * about one message per second per chat, and 20 per minute in a group. Edits
 * share those limits with sends (Telegram's developers say so: tdlib/td#2592),
 * so they are noted too; but an alert must not wait for an edit, so a message
 * may follow an edit at once (one short burst, which Telegram allows), while an
 * edit keeps its second after anything. Every successful send is noted (command
 * replies too, through an API transformer), and the outbox sender asks when it
 * may send next.
 */

export interface RateLimits {
  /** Least time between two messages to one chat. Default 1000 ms. */
  perChatMs: number;
  /** Messages per rolling minute in a group or supergroup. Default 20. */
  groupPerMinute: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { perChatMs: 1000, groupPerMinute: 20 };

const WINDOW_MS = 60_000;

/** Groups and supergroups have negative ids; private chats positive. */
export function isGroupId(chatId: number): boolean {
  return chatId < 0;
}

/** A request noted for a chat: when, and whether it edited a message rather than sending one. */
export interface Noted {
  at: number;
  edit: boolean;
}

/**
 * The earliest time a message (or, with `edit`, an edit) to this chat stays
 * within the limits, given what was sent to it so far (ascending). Pure.
 */
export function nextSendAt(sent: readonly (number | Noted)[], group: boolean, now: number, limits: RateLimits = DEFAULT_RATE_LIMITS, edit = false): number {
  let at = now;
  const times = sent.map((s) => (typeof s === "number" ? { at: s, edit: false } : s));
  // A message waits for the last message; an edit, for the last anything.
  const last = times.filter((s) => edit || !s.edit).at(-1)?.at;
  if (last !== undefined) at = Math.max(at, last + limits.perChatMs);
  // A message that follows an edit still keeps a second after the request before that edit.
  if (!edit && times.at(-1)?.edit && times.length >= 2) at = Math.max(at, times.at(-2)!.at + limits.perChatMs);
  if (group && sent.length >= limits.groupPerMinute) {
    // The oldest of the last `groupPerMinute` sends must leave the window first.
    const oldest = times[times.length - limits.groupPerMinute]!.at;
    at = Math.max(at, oldest + WINDOW_MS);
  }
  return at;
}

export class ChatRateLimiter {
  readonly #sent = new Map<number, Noted[]>();

  constructor(readonly limits: RateLimits = DEFAULT_RATE_LIMITS) {}

  note(chatId: number, at: number, edit = false): void {
    const times = this.#sent.get(chatId) ?? [];
    times.push({ at, edit });
    const keep = Math.max(this.limits.groupPerMinute, 1);
    if (times.length > keep) times.splice(0, times.length - keep);
    this.#sent.set(chatId, times);
  }

  /** When the next message (or edit) to this chat may go. */
  nextAt(chatId: number, now: number, edit = false): number {
    return nextSendAt(this.#sent.get(chatId) ?? [], isGroupId(chatId), now, this.limits, edit);
  }
}
