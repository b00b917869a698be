import { describe, expect, it } from "vitest";
import { parseStreamUrl, withCredentials } from "../../src/domain/stream-url.js";
import { InputError } from "../../src/errors.js";

/** The one sentence parseStreamUrl answers with, or the parsed URL. */
function outcome(raw: string, allowLocal = false): string {
  try {
    return `ok ${JSON.stringify(parseStreamUrl(raw, { allowLocal }))}`;
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return error.message;
  }
}

describe("camera stream URLs", () => {
  it("answers every malformed or hostile URL with one sentence, whatever it hides", () => {
    const notAllowed = /^Camera streams must be rtsp:\/\/, rtsps:\/\/, http:\/\/ or https:\/\/ URLs; \w+: is not allowed\.$/;
    const hostile: [string, RegExp | string][] = [
      ["file:///etc/passwd", notAllowed],
      ["concat:/etc/passwd|/etc/shadow", notAllowed],
      ["subfile:,start,0,end,100,:/etc/passwd", notAllowed],
      ["data:text/plain;base64,SGVsbG8=", notAllowed],
      ["ftp://cam/x", notAllowed],
      ["/etc/passwd", /^"\/etc\/passwd" is not a URL; /],
      ["/dev/video0", /^"\/dev\/video0" is not a URL; /],
      ["rtsp://cam/$(reboot)", "That URL contains characters no camera URL has (spaces, quotes, `;`, `|`, `$`, ...)."],
      ["rtsp://cam/a;rm -rf /", "That URL contains characters no camera URL has (spaces, quotes, `;`, `|`, `$`, ...)."],
      ["http://cam/`id`", "That URL contains characters no camera URL has (spaces, quotes, `;`, `|`, `$`, ...)."],
      ["rtsp://cam/x%7Cid", "That URL contains characters no camera URL has (spaces, quotes, `;`, `|`, `$`, ...)."],
      ["rtsp://cam/%zz", /^That URL has a broken %-escape/],
      ["rtsp://us%zzer:pw@cam/x", /^That URL has a broken %-escape/],
      ["rtsp://cam/x\nfile:/etc/passwd", "That URL contains control characters; paste the camera's URL on one line."],
      ["rtsp:///etc/passwd", /^That URL has no host; /],
      ["rtsp://cam:99999/x", /is not a URL; /],
      [`rtsp://cam/${"a".repeat(600)}`, "That URL is too long for a camera stream (512 characters at most)."],
      ["", /^Give the camera's stream URL/],
    ];
    for (const [raw, expected] of hostile) {
      const said = outcome(raw);
      if (typeof expected === "string") expect(said, raw).toBe(expected);
      else expect(said, raw).toMatch(expected);
    }
  });

  it("keeps credentials out of the URL it stores, and puts them back, encoded, only for ffmpeg", () => {
    const parsed = parseStreamUrl("rtsp://admin:p%40ss%3Aw0rd@192.168.1.20:554/h264Preview_01_sub");
    expect(parsed).toEqual({ url: "rtsp://192.168.1.20:554/h264Preview_01_sub", kind: "rtsp", username: "admin", password: "p@ss:w0rd" });
    expect(withCredentials(parsed.url, parsed.username, parsed.password)).toBe("rtsp://admin:p%40ss%3Aw0rd@192.168.1.20:554/h264Preview_01_sub");
  });

  it("takes local files and V4L2 devices only from the machine's own CLI", () => {
    expect(outcome("/srv/cams/door.mp4", true)).toBe('ok {"url":"/srv/cams/door.mp4","kind":"file"}');
    expect(outcome("/dev/video0", true)).toBe('ok {"url":"/dev/video0","kind":"device"}');
    expect(outcome("/srv/../etc/passwd", true)).toMatch(/is not a URL/);
    expect(outcome("/srv/cams/door.mp4", false)).toMatch(/is not a URL/);
  });
});
