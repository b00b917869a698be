/**
 * The little XML that ONVIF needs: parse a reply (bounded, strict, no DTD
 * entities: @xmldom/xmldom knows only the five predefined ones), find elements
 * by local name whatever prefix a camera chose (`tt:`, `trt:`, none), and
 * escape what goes into a request. Walks are iterative, so a hostile reply
 * nested a hundred thousand deep cannot overflow the stack.
 */
import { DOMParser, type Element, type Node } from "@xmldom/xmldom";

const ELEMENT_NODE = 1;

/** Parses XML text; throws on anything that is not well-formed (the caller turns it into one sentence). */
export function parseXml(text: string): Element {
  const parser = new DOMParser({
    locator: false,
    onError: (level, message) => {
      if (level !== "warning") throw new Error(`not well-formed XML: ${message.slice(0, 200)}`);
    },
  });
  const doc = parser.parseFromString(text, "text/xml");
  const root = doc.documentElement;
  if (!root) throw new Error("not XML: no root element");
  return root;
}

/** The element children of `node`, optionally only those with this local name. */
export function children(node: Element, localName?: string): Element[] {
  const out: Element[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE && (localName === undefined || (child as Element).localName === localName)) out.push(child as Element);
  }
  return out;
}

/** The first child with this local name, or undefined. */
export function child(node: Element, localName: string): Element | undefined {
  for (let c: Node | null = node.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === ELEMENT_NODE && (c as Element).localName === localName) return c as Element;
  }
  return undefined;
}

/** Follows a path of local names from `node` (first match at each step). */
export function path(node: Element | undefined, ...names: string[]): Element | undefined {
  let at = node;
  for (const name of names) {
    if (!at) return undefined;
    at = child(at, name);
  }
  return at;
}

/** Every descendant (depth first, document order) with this local name. */
export function descendants(root: Element, localName: string, limit = 10_000): Element[] {
  const out: Element[] = [];
  const stack: Node[] = [];
  for (let c = root.lastChild; c; c = c.previousSibling) stack.push(c);
  while (stack.length && out.length < limit) {
    const node = stack.pop()!;
    if (node.nodeType !== ELEMENT_NODE) continue;
    if ((node as Element).localName === localName) out.push(node as Element);
    for (let c = node.lastChild; c; c = c.previousSibling) stack.push(c);
  }
  return out;
}

/** The first descendant with this local name. */
export function descendant(root: Element, localName: string): Element | undefined {
  return descendants(root, localName, 1)[0];
}

/** The trimmed text content of an element (text and CDATA children only), or undefined. */
export function text(node: Element | undefined): string | undefined {
  if (!node) return undefined;
  let out = "";
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 3 || c.nodeType === 4) out += c.nodeValue ?? "";
  }
  return out.trim();
}

/** Escapes text for an XML element or attribute. */
export function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);
}
