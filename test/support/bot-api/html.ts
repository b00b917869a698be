/**
 * Telegram's HTML parse mode, as the Bot API documents it: only its tags, only
 * its four named entities (plus numeric ones), every tag closed in order, and no
 * bare `<` or `&` in text.
 * A caption with an unescaped `<` or `&` fails here the way it fails in
 * Telegram ("can't parse entities"), so escaping bugs cannot pass a test.
 */
import type { MessageEntity } from "grammy/types";

const SIMPLE_TAGS: Record<string, MessageEntity["type"]> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
};
const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

export class HtmlParseError extends Error {}

/** Plain text and entities of a Telegram HTML string, or an {@link HtmlParseError} with Telegram's wording. */
export function parseTelegramHtml(source: string): { text: string; entities: MessageEntity[] } {
  let text = "";
  const entities: MessageEntity[] = [];
  const open: { tag: string; type: MessageEntity["type"]; offset: number; url?: string }[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new HtmlParseError(`Bad Request: can't parse entities: ${what} at byte offset ${Buffer.byteLength(source.slice(0, i))}`);
  };
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === "<") {
      const end = source.indexOf(">", i);
      if (end < 0) fail("Unclosed start tag");
      const inner = source.slice(i + 1, end);
      if (inner.startsWith("/")) {
        const name = inner.slice(1).trim().toLowerCase();
        const top = open.pop();
        if (!top || top.tag !== name) fail(`Unmatched end tag "${name}"`);
        const length = text.length - top!.offset;
        if (length > 0) entities.push({ type: top!.type, offset: top!.offset, length, ...(top!.url ? { url: top!.url } : {}) } as MessageEntity);
      } else {
        const match = /^([a-z-]+)((?:\s+[a-z-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))*)\s*$/i.exec(inner);
        if (!match) fail(`Unsupported start tag "${inner.slice(0, 20)}"`);
        const name = match![1]!.toLowerCase();
        const attrs = Object.fromEntries([...match![2]!.matchAll(/([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi)].map((m) => [m[1]!.toLowerCase(), m[2] ?? m[3] ?? m[4] ?? ""]));
        if (name === "a") {
          if (!attrs.href) fail('Tag "a" must have attribute "href"');
          open.push({ tag: name, type: "text_link", offset: text.length, url: decodeEntities(attrs.href!) });
        } else if (name === "span") {
          if (attrs.class !== "tg-spoiler") fail('Tag "span" must have class "tg-spoiler"');
          open.push({ tag: name, type: "spoiler", offset: text.length });
        } else if (name === "tg-emoji") {
          open.push({ tag: name, type: "custom_emoji", offset: text.length });
        } else if (SIMPLE_TAGS[name]) {
          open.push({ tag: name, type: SIMPLE_TAGS[name], offset: text.length });
        } else {
          fail(`Unsupported start tag "${name}"`);
        }
      }
      i = end + 1;
    } else if (ch === "&") {
      const match = /^&(?:([a-z]+)|#(\d{1,7})|#x([0-9a-f]{1,6}));/i.exec(source.slice(i, i + 12));
      if (!match) fail('Character "&" is reserved, use "&amp;"');
      if (match![1]) {
        const named = NAMED_ENTITIES[match![1].toLowerCase()];
        if (named === undefined) fail(`Unknown entity "${match![1]}"`);
        text += named;
      } else {
        text += String.fromCodePoint(match![2] ? Number(match![2]) : parseInt(match![3]!, 16));
      }
      i += match![0].length;
    } else {
      text += ch;
      i += 1;
    }
  }
  if (open.length) fail(`Unclosed start tag "${open[open.length - 1]!.tag}"`);
  entities.sort((a, b) => a.offset - b.offset);
  return { text, entities };
}

function decodeEntities(value: string): string {
  return value.replace(/&(lt|gt|amp|quot);/g, (_m, name: string) => NAMED_ENTITIES[name]!);
}
