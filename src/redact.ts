/**
 * Secrets must never reach a log line, an error message or a file in clear. These
 * helpers mask the two shapes a secret takes here: credentials inside a URL and a
 * Telegram bot token (which also appears inside Bot API URLs).
 */

const TOKEN_PATTERN = /\b\d{4,12}:[A-Za-z0-9_-]{30,60}\b/g;
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*)(?::[^/@\s]*)?@/gi;
const QUERY_SECRET = /([?&](?:password|passwd|pwd|pass|token|key|auth)=)[^&\s]*/gi;

/** `rtsp://admin:hunter2@cam/x` → `rtsp://admin:***@cam/x`; query passwords too. */
export function maskUrl(url: string): string {
  return url
    .replace(URL_USERINFO, (_m, scheme: string, user: string) => `${scheme}${user ? `${user}:***` : "***"}@`)
    .replace(QUERY_SECRET, "$1***");
}

/** Masks every URL credential and anything shaped like a bot token in free text. */
export function redact(text: string, extraSecrets: readonly string[] = []): string {
  let out = maskUrl(text).replace(TOKEN_PATTERN, "<bot-token>");
  for (const secret of extraSecrets) {
    if (secret.length >= 4) out = out.split(secret).join("***");
  }
  return out;
}
