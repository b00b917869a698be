/**
 * Telegram HTML that is safe by construction: the `html` tag escapes every
 * interpolated value unless it is already {@link Html}, so a camera called
 * `<b>_x*` or a user's 4,000-character argument can never break a message.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ESCAPES[c]!);
}

/** A string of Telegram HTML. Only {@link html} and {@link joinHtml} make one. */
export class Html {
  /** @internal use the `html` tag */
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += (value instanceof Html ? value.value : escapeHtml(String(value))) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

export function joinHtml(parts: readonly Html[], separator = "\n"): Html {
  return new Html(parts.map((p) => p.value).join(escapeHtml(separator)));
}

/** Shortens what a user typed before it is echoed back (a 4,000-character name must not become a 4,000-character reply). */
export function shorten(text: string, max = 40): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
