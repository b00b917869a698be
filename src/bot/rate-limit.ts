/**
 * Telegram's flood limits, kept on our side so that alerts are not met with 429:
 * about one message per second per chat, and 20 per minute in a group. Every
 * successful send is noted (command replies too, through an API transformer),
 * and the outbox sender asks when it may send next.
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

/**
 * The earliest time a message to this chat stays within the limits, given the
 * times of the messages sent to it so far (ascending). Pure.
 */
export function nextSendAt(sent: readonly number[], group: boolean, now: number, limits: RateLimits = DEFAULT_RATE_LIMITS): number {
  let at = now;
  const last = sent[sent.length - 1];
  if (last !== undefined) at = Math.max(at, last + limits.perChatMs);
  if (group && sent.length >= limits.groupPerMinute) {
    // The oldest of the last `groupPerMinute` sends must leave the window first.
    const oldest = sent[sent.length - limits.groupPerMinute]!;
    at = Math.max(at, oldest + WINDOW_MS);
  }
  return at;
}

export class ChatRateLimiter {
  readonly #sent = new Map<number, number[]>();

  constructor(readonly limits: RateLimits = DEFAULT_RATE_LIMITS) {}

  note(chatId: number, at: number): void {
    const times = this.#sent.get(chatId) ?? [];
    times.push(at);
    const keep = Math.max(this.limits.groupPerMinute, 1);
    if (times.length > keep) times.splice(0, times.length - keep);
    this.#sent.set(chatId, times);
  }

  nextAt(chatId: number, now: number): number {
    return nextSendAt(this.#sent.get(chatId) ?? [], isGroupId(chatId), now, this.limits);
  }
}
