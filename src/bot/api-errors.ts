/**
 * What a failed Bot API call means for Vigil, and how to log it without the
 * token. grammY's HttpError wraps node-fetch's error, whose message holds the
 * request URL, and the URL holds the token: so errors are never logged as they
 * are, only through {@link describeApiError}.
 */
import { GrammyError, HttpError } from "grammy";
import { redact } from "../redact.js";

export type ApiFailure =
  /** Flood control: wait `retryAfterMs`. */
  | { kind: "rate-limited"; retryAfterMs: number }
  /** The group became a supergroup: resend to `chatId`. */
  | { kind: "migrated"; chatId: number }
  /** Telegram or the network is down, or answered 5xx: try again later. */
  | { kind: "unavailable" }
  /** The chat is gone or the bot was removed (403, chat not found): keep it queued, try much later. */
  | { kind: "chat-unavailable" }
  /** This request will never succeed as it is (400). */
  | { kind: "rejected"; description: string }
  /** The token was revoked (401) or another instance polls (409). */
  | { kind: "fatal"; description: string };

export function classifyApiError(error: unknown): ApiFailure {
  if (error instanceof GrammyError) {
    const retryAfter = error.parameters.retry_after;
    if (error.error_code === 429) return { kind: "rate-limited", retryAfterMs: (retryAfter ?? 5) * 1000 };
    if (error.parameters.migrate_to_chat_id !== undefined) return { kind: "migrated", chatId: error.parameters.migrate_to_chat_id };
    if (error.error_code >= 500) return { kind: "unavailable" };
    if (error.error_code === 401 || error.error_code === 409) return { kind: "fatal", description: error.description };
    if (error.error_code === 403 || /chat not found|bot was kicked|not enough rights to send|have no rights to send/i.test(error.description)) return { kind: "chat-unavailable" };
    return { kind: "rejected", description: error.description };
  }
  // HttpError (refused, reset, DNS, timeout) and anything else thrown by the client: the network.
  return { kind: "unavailable" };
}

/** True for Telegram's answer to an edit that changes nothing (a double press): not an error for us. */
export function isNotModified(error: unknown): boolean {
  return error instanceof GrammyError && /message is not modified/i.test(error.description);
}

/** One line for the log, never containing the token. */
export function describeApiError(error: unknown, token: string): string {
  if (error instanceof GrammyError) return redact(`${error.method}: ${error.error_code} ${error.description}`, [token]);
  if (error instanceof HttpError) {
    const cause = error.error as { code?: unknown; type?: unknown; name?: unknown } | undefined;
    const code = typeof cause?.code === "string" ? cause.code : typeof cause?.type === "string" ? cause.type : typeof cause?.name === "string" ? cause.name : "network error";
    // error.message is "Network request for 'x' failed!": no URL in it (sensitiveLogs is off).
    return redact(`${error.message} (${code})`, [token]);
  }
  if (error instanceof Error) return redact(`${error.name}: ${error.message}`, [token]);
  return redact(String(error), [token]);
}
