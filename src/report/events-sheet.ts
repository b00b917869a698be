/**
 * The `/events` picture: a contact sheet of the newest visits' snapshots (time,
 * camera and what came under each) over a 24-hour activity strip (alerts per hour, one
 * row per camera). One glance answers "what happened, where, and when was it
 * busy", which a list of timestamps does not. Rendered with sharp: an SVG for
 * the layout and text, the snapshots composited in.
 */
import sharp, { type OverlayOptions } from "sharp";
import { visitWhat } from "../domain/labels.js";

export interface SheetEvent {
  cameraId: string;
  cameraName: string;
  label: string;
  /** Most objects of each kind the visit counted at once (empty: just the label). */
  counts: Readonly<Record<string, number>>;
  score: number;
  at: number;
  motionOnly: boolean;
  /** The snapshot; undefined when it could not be read (shown as such, the sheet still renders). */
  jpeg: Buffer | undefined;
}

export interface ActivityRow {
  cameraName: string;
  /** Alerts in each of the last 24 hours, oldest first; the last is the current hour. */
  counts: number[];
}

export interface EventsSheetOptions {
  /** Newest first. */
  events: readonly SheetEvent[];
  activity: readonly ActivityRow[];
  /** Start (epoch ms) of the first hour of the activity strip. */
  activityFrom: number;
  now: number;
  /** IANA zone for the times shown. Default: the system's. */
  timeZone?: string | undefined;
}

const HOUR_MS = 3600_000;
const WIDTH = 1200;
const PAD = 16;
const CAPTION = 58;
const HEADER = 64;
const ROW = 34;
const NAME_COL = 170;
/** The sheet's colours, exported so a test can tell an empty hour from a busy one. */
export const COLORS = { bg: "#14171f", card: "#1d212b", text: "#f2f4f8", muted: "#9aa3b5", empty: "#262b36", accent: "#f6c343", hot: "#e4572e", motion: "#f0a04b" };
const FONT = "DejaVu Sans, sans-serif";

/** Alerts per hour over the 24 hours ending with the current one, per camera (cameras without alerts get a row of zeros). */
export function hourlyActivity(events: readonly { cameraId: string; cameraName: string; at: number }[], cameras: readonly { id: string; name: string }[], now: number): { from: number; rows: (ActivityRow & { cameraId: string })[] } {
  const from = now - (now % HOUR_MS) - 23 * HOUR_MS;
  const rows = new Map<string, ActivityRow & { cameraId: string }>();
  for (const c of cameras) rows.set(c.id, { cameraId: c.id, cameraName: c.name, counts: new Array<number>(24).fill(0) });
  for (const e of events) {
    const slot = Math.floor((e.at - from) / HOUR_MS);
    if (slot < 0 || slot > 23) continue;
    let row = rows.get(e.cameraId);
    if (!row) {
      row = { cameraId: e.cameraId, cameraName: e.cameraName, counts: new Array<number>(24).fill(0) };
      rows.set(e.cameraId, row);
    }
    row.counts[slot]! += 1;
  }
  return { from, rows: [...rows.values()] };
}

function escape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Blends from the accent colour (one alert) to the hot colour (the busiest hour). */
function heat(count: number, max: number): string {
  const t = max <= 1 ? 0 : (count - 1) / (max - 1);
  const a = [0xf6, 0xc3, 0x43];
  const b = [0xe4, 0x57, 0x2e];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i]! - v) * t)).join(",")})`;
}

function columns(n: number): number {
  if (n <= 1) return 1;
  if (n <= 4) return 2;
  if (n <= 9) return 3;
  return 4;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface SheetLayout {
  width: number;
  height: number;
  columns: number;
  /** Where each snapshot goes, in event order. */
  pictures: Rect[];
  /** Card of each event (picture and caption). */
  cards: Rect[];
  activityTop: number;
  /** The cell of camera row `row`, hour `hour` (0 = 23 hours ago, 23 = now). */
  cell(row: number, hour: number): Rect;
}

/** Where everything goes on the sheet; shared by the renderer and anyone checking its output. */
export function layoutSheet(events: number, activityRows: number): SheetLayout {
  const cols = columns(events);
  const cardW = Math.floor((WIDTH - PAD * (cols + 1)) / cols);
  const thumbH = Math.round((cardW * 9) / 16);
  const cardH = thumbH + CAPTION;
  const gridH = events ? Math.ceil(events / cols) * (cardH + PAD) : 90;
  const activityTop = HEADER + gridH + 20;
  const top = activityTop + 54;
  const cellsX = PAD + NAME_COL;
  const cellW = (WIDTH - PAD - cellsX) / 24;
  const cards: Rect[] = [];
  for (let i = 0; i < events; i++) cards.push({ x: PAD + (i % cols) * (cardW + PAD), y: HEADER + Math.floor(i / cols) * (cardH + PAD), w: cardW, h: cardH });
  return {
    width: WIDTH,
    height: top + Math.max(1, activityRows) * ROW + 30 + PAD,
    columns: cols,
    cards,
    pictures: cards.map((c) => ({ x: c.x, y: c.y, w: c.w, h: thumbH })),
    activityTop,
    cell: (row, hour) => ({ x: cellsX + hour * cellW + 1.5, y: top + row * ROW + 2, w: cellW - 3, h: ROW - 6 }),
  };
}

export async function renderEventsSheet(options: EventsSheetOptions): Promise<Buffer> {
  const zone = options.timeZone ? { timeZone: options.timeZone } : {};
  const time = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", ...zone });
  const day = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", ...zone });
  const hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", ...zone });
  const events = options.events;
  const layout = layoutSheet(events.length, options.activity.length);
  const { width, height, columns: cols } = layout;

  const svg: string[] = [];
  svg.push(`<rect width="${width}" height="${height}" fill="${COLORS.bg}"/>`);
  const title = events.length ? `Last ${events.length} event${events.length === 1 ? "" : "s"}` : "No events yet";
  svg.push(`<text x="${PAD}" y="42" font-size="28" font-weight="bold" fill="${COLORS.text}">${title}</text>`);
  svg.push(`<text x="${width - PAD}" y="42" font-size="18" fill="${COLORS.muted}" text-anchor="end">${escape(`${day.format(options.now)}, ${hour.format(options.now)}`)}</text>`);
  if (!events.length) svg.push(`<text x="${PAD}" y="${HEADER + 40}" font-size="18" fill="${COLORS.muted}">Alerts appear here with their snapshot once a camera sees something.</text>`);

  const thumbs: OverlayOptions[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const card = layout.cards[i]!;
    const pic = layout.pictures[i]!;
    svg.push(`<rect x="${card.x}" y="${card.y}" width="${card.w}" height="${card.h}" rx="8" fill="${COLORS.card}"/>`);
    const picture = e.jpeg ? await sharp(e.jpeg).resize(pic.w, pic.h, { fit: "contain", background: COLORS.card }).jpeg({ quality: 85 }).toBuffer().catch(() => undefined) : undefined;
    if (picture) thumbs.push({ input: picture, left: pic.x, top: pic.y });
    else svg.push(`<text x="${pic.x + pic.w / 2}" y="${pic.y + pic.h / 2}" font-size="16" fill="${COLORS.muted}" text-anchor="middle">picture unreadable</text>`);
    const what = e.motionOnly ? "motion only" : `${visitWhat(e.label, e.counts)} ${Math.round(e.score * 100)}%`;
    const fontSize = cols >= 4 ? 15 : 17;
    svg.push(`<text x="${card.x + 10}" y="${pic.y + pic.h + 24}" font-size="${fontSize}" font-weight="bold" fill="${COLORS.text}">${escape(time.format(e.at))}  ${escape(clip(e.cameraName, cols >= 4 ? 14 : 22))}</text>`);
    svg.push(`<text x="${card.x + 10}" y="${pic.y + pic.h + 46}" font-size="${fontSize - 2}" fill="${e.motionOnly ? COLORS.motion : COLORS.muted}">${escape(`${what} · ${day.format(e.at)}`)}</text>`);
  }

  // The activity strip: one row per camera, one cell per hour, the current hour on the right.
  const { activityTop } = layout;
  svg.push(`<text x="${PAD}" y="${activityTop + 24}" font-size="20" font-weight="bold" fill="${COLORS.text}">Alerts per hour, last 24 hours</text>`);
  const max = Math.max(1, ...options.activity.flatMap((r) => r.counts));
  const first = layout.cell(0, 0);
  const cellsX = first.x - 1.5;
  if (!options.activity.length) svg.push(`<text x="${PAD}" y="${first.y + 20}" font-size="16" fill="${COLORS.muted}">No cameras.</text>`);
  else svg.push(`<text x="${cellsX - 8}" y="${first.y - 8}" font-size="13" fill="${COLORS.muted}" text-anchor="end">total</text>`);
  options.activity.forEach((row, r) => {
    const y = layout.cell(r, 0).y;
    const total = row.counts.reduce((a, b) => a + b, 0);
    svg.push(`<text x="${PAD}" y="${y + 19}" font-size="16" fill="${COLORS.text}">${escape(clip(row.cameraName, 14))}</text>`);
    svg.push(`<text x="${cellsX - 8}" y="${y + 19}" font-size="14" fill="${COLORS.muted}" text-anchor="end">${total}</text>`);
    row.counts.forEach((count, h) => {
      const c = layout.cell(r, h);
      svg.push(`<rect x="${c.x}" y="${c.y}" width="${c.w}" height="${c.h}" rx="4" fill="${count ? heat(count, max) : COLORS.empty}"/>`);
      if (count) svg.push(`<text x="${c.x + c.w / 2}" y="${c.y + 19}" font-size="13" font-weight="bold" fill="#1a1a1a" text-anchor="middle">${count}</text>`);
    });
  });
  const labelsY = layout.cell(Math.max(1, options.activity.length) - 1, 0).y + ROW + 12;
  for (let h = 0; h < 24; h += 3) svg.push(`<text x="${layout.cell(0, h).x}" y="${labelsY}" font-size="13" fill="${COLORS.muted}">${escape(hour.format(options.activityFrom + h * HOUR_MS))}</text>`);
  svg.push(`<text x="${width - PAD}" y="${labelsY}" font-size="13" fill="${COLORS.muted}" text-anchor="end">now</text>`);

  const picture = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">${svg.join("")}</svg>`);
  return sharp(picture).composite(thumbs).jpeg({ quality: 85 }).toBuffer();
}
