/**
 * A multipart/form-data parser for the Bot API stand-in. Node 20's
 * `Request.formData()` rejects grammY's bodies (grammY writes `filename=x`
 * unquoted, which the Bot API accepts), so the parts are split here by hand.
 */

export interface UploadedFile {
  /** The form field (grammY: the random id an `attach://` reference points to). */
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartBody {
  fields: Record<string, string>;
  files: Record<string, UploadedFile>;
}

export function multipartBoundary(contentType: string): string | undefined {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

export function parseMultipart(body: Buffer, boundary: string): MultipartBody {
  const fields: Record<string, string> = {};
  const files: Record<string, UploadedFile> = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let start = body.indexOf(delimiter);
  if (start < 0) throw new Error("multipart body without its boundary");
  for (;;) {
    start += delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break; // closing delimiter
    if (body.subarray(start, start + 2).toString() === "\r\n") start += 2;
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), start);
    if (next < 0) throw new Error("multipart body is truncated");
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd < 0) throw new Error("multipart part without headers");
    const headers = part.subarray(0, headerEnd).toString("utf8");
    const data = part.subarray(headerEnd + 4);
    const disposition = /content-disposition:\s*form-data\s*;(.*)/i.exec(headers)?.[1] ?? "";
    const name = /\bname="([^"]*)"|\bname=([^;\s]+)/i.exec(disposition);
    const field = name?.[1] ?? name?.[2];
    if (field === undefined) throw new Error("multipart part without a name");
    const filename = /\bfilename="([^"]*)"|\bfilename=([^;\r\n]+)/i.exec(disposition);
    if (filename) {
      const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? "application/octet-stream";
      files[field] = { field, filename: (filename[1] ?? filename[2] ?? "").trim(), contentType, data: Buffer.from(data) };
    } else {
      fields[field] = data.toString("utf8");
    }
    start = next + 2;
  }
  return { fields, files };
}
