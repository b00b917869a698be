import { describe, expect, it } from "vitest";
import { parsePicamUrl, parseStreamUrl, streamKind, withCredentials } from "../../src/domain/stream-url.js";
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

describe("the Raspberry Pi camera's URL", () => {
  it("is picam:N with an optional size and rate, stored in one spelling, and only from the machine's own CLI", () => {
    expect(outcome("picam:0", true)).toBe('ok {"url":"picam:0","kind":"picam"}');
    expect(outcome("PICAM:1?fps=10", true)).toBe('ok {"url":"picam:1?fps=10","kind":"picam"}');
    expect(outcome("picam:0?fps=7.5&height=480&width=640", true)).toBe('ok {"url":"picam:0?width=640&height=480&fps=7.5","kind":"picam"}');
    expect(outcome("picam:0", false)).toBe("The Raspberry Pi camera can be added only on the Pi itself: vigil camera add <name> picam:0.");
    expect(parsePicamUrl("picam:0")).toEqual({ camera: 0, width: 1280, height: 720, fps: 15 });
    expect(parsePicamUrl("picam:1?width=1920&height=1080&fps=30")).toEqual({ camera: 1, width: 1920, height: 1080, fps: 30 });
    expect(streamKind("picam:0?fps=10")).toBe("picam");
  });

  it("answers each bad part in one sentence", () => {
    const bad: [string, string][] = [
      ["picam:", "The Pi camera is picam:0 (picam:1 for a second one), optionally with its size and rate: picam:0?width=1280&height=720&fps=15."],
      ["picam:x", "The Pi camera is picam:0 (picam:1 for a second one), optionally with its size and rate: picam:0?width=1280&height=720&fps=15."],
      ["picam:12", "picam:12 is not a camera number; picam:0 is the Pi's first camera, picam:1 its second."],
      ["picam:0?iso=800", '"iso" is not a Pi camera setting; picam takes width, height and fps, as in picam:0?width=1280&height=720&fps=15.'],
      ["picam:0?fps=10&fps=12", "fps is given twice in the Pi camera's URL."],
      ["picam:0?width=640", "Give the Pi camera's width and height together, as in picam:0?width=1280&height=720&fps=15."],
      ["picam:0?width=4056&height=3040", "The Pi camera's width and height must be even numbers from 64x64 to 1920x1080 (the largest its H.264 encoder takes)."],
      ["picam:0?width=641&height=480", "The Pi camera's width and height must be even numbers from 64x64 to 1920x1080 (the largest its H.264 encoder takes)."],
      ["picam:0?width=1920&height=1080&fps=60", "The Pi camera's fps must be from 1 to 30 at 1920x1080."],
      ["picam:0?fps=0", "The Pi camera's fps must be from 1 to 60 at 1280x720."],
      ["picam:0?fps=1e1", "The Pi camera's fps must be from 1 to 60 at 1280x720."],
      ["picam:0;reboot", "The Pi camera is picam:0 (picam:1 for a second one), optionally with its size and rate: picam:0?width=1280&height=720&fps=15."],
    ];
    for (const [raw, sentence] of bad) expect(outcome(raw, true), raw).toBe(sentence);
  });
});
