/**
 * Annotated JPEGs with sharp: a box and `label score` for each object, the camera
 * name and the local time in a bar at the top. The overlay is one SVG composited
 * over the picture (sharp needs a font installed to draw its text:
 * fonts-dejavu-core). Every piece of text is XML-escaped, since camera names are
 * typed by users.
 */
import sharp from "sharp";
import type { DetectedObject } from "../../domain/events.js";
import { frameToRgb, type Frame } from "../frame.js";
import { MOTION_LABEL } from "../events/alert-rules.js";

export interface AnnotateOptions {
  cameraName: string;
  /** Epoch ms shown as local time. */
  at: number;
  objects: readonly DetectedObject[];
  /** Size of the frame the boxes are in, when the picture is another size (a high-resolution still). Default: the picture's size. */
  boxSpace?: { width: number; height: number };
  /** JPEG quality. Default 82. */
  quality?: number;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** Local time as 2025-11-21 14:03:07. */
export function localTime(at: number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const COLOURS: Record<string, string> = { person: "#ff3b30", car: "#0a84ff", truck: "#0a84ff", bus: "#0a84ff", dog: "#ffcc00", cat: "#ffcc00", [MOTION_LABEL]: "#ff9f0a" };

export function objectCaption(object: DetectedObject): string {
  return object.label === MOTION_LABEL ? "motion" : `${object.label} ${object.score.toFixed(2)}`;
}

/** The overlay for a width×height picture. */
export function overlaySvg(width: number, height: number, options: AnnotateOptions): string {
  const sx = width / (options.boxSpace?.width ?? width);
  const sy = height / (options.boxSpace?.height ?? height);
  const font = Math.max(11, Math.round(height / 28));
  const stroke = Math.max(2, Math.round(height / 240));
  const bar = Math.round(font * 1.6);
  const parts: string[] = [];
  for (const object of options.objects) {
    const [x1, y1, x2, y2] = object.box;
    const x = Math.round(x1 * sx);
    const y = Math.round(y1 * sy);
    const w = Math.max(1, Math.round((x2 - x1) * sx));
    const h = Math.max(1, Math.round((y2 - y1) * sy));
    const colour = COLOURS[object.label] ?? "#30d158";
    const caption = escapeXml(objectCaption(object));
    const labelY = y - bar * 0.8 >= bar ? y - Math.round(font * 1.3) : y;
    parts.push(
      `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`,
      `<rect x="${x}" y="${labelY}" width="${Math.round(caption.length * font * 0.62 + font * 0.6)}" height="${Math.round(font * 1.3)}" fill="${colour}"/>`,
      `<text x="${x + Math.round(font * 0.3)}" y="${labelY + font}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#000">${caption}</text>`,
    );
  }
  const title = `${escapeXml(options.cameraName)}  ${localTime(options.at)}`;
  parts.push(
    `<rect x="0" y="0" width="${width}" height="${bar}" fill="#000" fill-opacity="0.55"/>`,
    `<text x="${Math.round(font * 0.5)}" y="${Math.round(bar * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#fff">${title}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`;
}

/** A detection frame, annotated. */
export async function annotateFrame(frame: Frame, options: AnnotateOptions): Promise<Buffer> {
  const svg = overlaySvg(frame.width, frame.height, options);
  return sharp(frameToRgb(frame), { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: options.quality ?? 82 })
    .toBuffer();
}

/** Any JPEG (a camera's high-resolution still), annotated with boxes from `options.boxSpace`. */
export async function annotateJpeg(jpeg: Buffer, options: AnnotateOptions): Promise<Buffer> {
  const image = sharp(jpeg);
  const { width, height } = await image.metadata();
  if (!width || !height) throw new Error("the still has no size");
  return image
    .composite([{ input: Buffer.from(overlaySvg(width, height, options)), top: 0, left: 0 }])
    .jpeg({ quality: options.quality ?? 82 })
    .toBuffer();
}
