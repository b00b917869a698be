/**
 * The satellite protocol's decisions, pure: what a side does with each message
 * that reaches it (in order, once; replays, stale and outdated ones refused),
 * when a request has waited too long, when a satellite is silent, which box a
 * camera name belongs to.
 */
import { describe, expect, it } from "vitest";
import {
  acceptDatagram,
  commandTimeoutMs,
  decodeBody,
  decodeHeader,
  encodeBody,
  encodeHeader,
  initialDatagramState,
  isSilent,
  MAX_HELD,
  overdue,
  reliableDecision,
  REPLAY_WINDOW,
  resolveCamera,
  satelliteIdOf,
  siteOfNewCamera,
  splitRemoteCameraId,
  remoteCameraId,
  type DatagramState,
  type Header,
} from "../../src/satellite/protocol.js";

describe("the wire header and body", () => {
  it("round-trips, and refuses what is not a header of this version", () => {
    const header: Header = { channel: "reliable", seq: 2 ** 40 + 7, boot: 3, echo: 9 };
    const bytes = encodeHeader(header);
    expect(bytes.length).toBe(26);
    expect(decodeHeader(bytes)).toEqual(header);
    const other = bytes.slice();
    other.set([2], 0);
    expect(decodeHeader(other)).toBeUndefined();
    const channel = bytes.slice();
    channel.set([7], 1);
    expect(decodeHeader(channel)).toBeUndefined();
    expect(decodeHeader(bytes.subarray(0, 20))).toBeUndefined();
    const huge = bytes.slice();
    huge.fill(0xff, 2, 10);
    expect(decodeHeader(huge)).toBeUndefined();
  });

  it("carries JSON and bytes together, and refuses a truncated or non-JSON body", () => {
    const jpeg = Buffer.from([0xff, 0xd8, 1, 2, 3]);
    const body = encodeBody({ t: "event", x: "é" }, jpeg);
    expect(decodeBody(body)).toEqual({ json: { t: "event", x: "é" }, attachment: jpeg });
    expect(decodeBody(body.subarray(0, 6))).toBeUndefined();
    expect(decodeBody(encodeBody({ a: 1 }))?.attachment.length).toBe(0);
    const junk = new Uint8Array([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]);
    expect(decodeBody(junk)).toBeUndefined();
  });

  it("knows a satellite's id only in its own topics", () => {
    expect(satelliteIdOf("vigil/satellites/0123456789ab/up")).toBe("0123456789ab");
    expect(satelliteIdOf("vigil/satellites/0123456789ab/up/x")).toBeUndefined();
    expect(satelliteIdOf("vigil/satellites/+/up")).toBeUndefined();
    expect(satelliteIdOf("vigil/home/0123456789ab/up")).toBeUndefined();
  });
});

describe("the reliable channel: in order, once", () => {
  it("processes the next, acks a duplicate again without processing it, holds a later one until the gap is filled", () => {
    expect(reliableDecision(4, 5)).toBe("process");
    expect(reliableDecision(4, 4)).toBe("duplicate");
    expect(reliableDecision(4, 1)).toBe("duplicate");
    expect(reliableDecision(4, 6)).toBe("hold");
    expect(reliableDecision(4, 4 + MAX_HELD)).toBe("hold");
    expect(reliableDecision(4, 5 + MAX_HELD)).toBe("too-far");
    expect(reliableDecision(0, 0)).toBe("too-far");
    expect(reliableDecision(0, 1.5)).toBe("too-far");
  });

  it("delivers a shuffled, doubled stream exactly once and in order", () => {
    const sent = Array.from({ length: 40 }, (_, i) => i + 1);
    // Every message twice, the second copies in reverse, some early ones late.
    const arriving = [...sent.slice(5), ...sent.slice(0, 5), ...[...sent].reverse()];
    let last = 0;
    const held = new Set<number>();
    const processed: number[] = [];
    for (const seq of arriving) {
      const decision = reliableDecision(last, seq);
      if (decision === "hold") held.add(seq);
      if (decision !== "process") continue;
      processed.push(seq);
      last = seq;
      while (held.delete(last + 1)) processed.push(++last);
    }
    expect(processed).toEqual(sent);
  });
});

describe("datagrams: fresh, once, from the newest start", () => {
  const d = (seq: number, boot = 5, echo = 2): Header => ({ channel: "datagram", seq, boot, echo });
  const take = (state: DatagramState, header: Header) => {
    const verdict = acceptDatagram(state, header);
    return { verdict, state: verdict.state };
  };

  it("takes each number once, also a late one inside the window, and refuses replays", () => {
    let state = initialDatagramState(2);
    for (const seq of [1, 2, 5, 3]) {
      const r = take(state, d(seq));
      expect(r.verdict.accept, `seq ${seq}`).toBe(true);
      state = r.state;
    }
    for (const seq of [1, 2, 3, 5]) expect(acceptDatagram(state, d(seq))).toMatchObject({ accept: false, reason: "replay" });
    expect(acceptDatagram(state, d(4)).accept).toBe(true);
    state = take(state, d(5 + REPLAY_WINDOW + 10)).state;
    expect(acceptDatagram(state, d(4))).toMatchObject({ accept: false, reason: "too-old" });
    expect(state.seen.length).toBeLessThanOrEqual(REPLAY_WINDOW);
  });

  it("refuses a datagram recorded before this side's start (it echoes an older boot), but takes a hello", () => {
    const state = initialDatagramState(3, 5);
    expect(acceptDatagram(state, d(1, 5, 2))).toMatchObject({ accept: false, reason: "stale-echo" });
    expect(acceptDatagram(state, { channel: "hello", seq: 1, boot: 5, echo: 2 }).accept).toBe(true);
  });

  it("follows the peer to a new start, and refuses anything from its earlier starts afterwards", () => {
    let state = initialDatagramState(2);
    state = take(state, d(40, 5)).state;
    const next = acceptDatagram(state, d(1, 6));
    expect(next).toMatchObject({ accept: true, newPeerBoot: true });
    state = next.state;
    expect(acceptDatagram(state, d(41, 5))).toMatchObject({ accept: false, reason: "old-boot" });
    expect(acceptDatagram(state, { channel: "hello", seq: 99, boot: 5, echo: 2 })).toMatchObject({ accept: false, reason: "old-boot" });
    expect(acceptDatagram(state, d(2, 6)).accept).toBe(true);
  });
});

describe("requests and silence", () => {
  it("finds the requests whose time is up", () => {
    const pending = new Map([
      [1, { deadline: 1000 }],
      [2, { deadline: 2000 }],
      [3, { deadline: 1500 }],
    ]);
    expect(overdue(pending, 1500)).toEqual([1, 3]);
    expect(overdue(pending, 999)).toEqual([]);
  });

  it("gives a clip its seconds on top of the usual wait", () => {
    expect(commandTimeoutMs({ op: "clip", camera: "yard", seconds: 60 })).toBe(100_000);
    expect(commandTimeoutMs({ op: "snapshot", camera: "yard" })).toBe(20_000);
  });

  it("calls a satellite silent once it has not been heard from for the time given", () => {
    expect(isSilent(0, 44_999, 45_000)).toBe(false);
    expect(isSilent(0, 45_000, 45_000)).toBe(true);
  });
});

describe("camera names across boxes", () => {
  const local = [{ name: "door" }, { name: "yard" }];
  const sats = [
    { id: "aaaaaaaaaaaa", site: "garage", cameras: [{ name: "drive" }, { name: "yard" }, { name: "side" }] },
    { id: "bbbbbbbbbbbb", site: "cabin", cameras: [{ name: "side" }] },
  ];
  it("reads site/camera, a bare name of the hub, a bare name only one satellite has, and says when a bare name is ambiguous", () => {
    expect(resolveCamera("Garage/Drive", local, sats)).toEqual({ box: "satellite", satelliteId: "aaaaaaaaaaaa", site: "garage", name: "drive" });
    expect(resolveCamera("yard", local, sats)).toEqual({ box: "local", name: "yard" });
    expect(resolveCamera("garage/yard", local, sats)).toMatchObject({ box: "satellite", name: "yard" });
    expect(resolveCamera("drive", local, sats)).toMatchObject({ box: "satellite", site: "garage" });
    expect(resolveCamera("side", local, sats)).toEqual({ box: "ambiguous", names: ["garage/side", "cabin/side"] });
    expect(resolveCamera("garage/porch", local, sats)).toEqual({ box: "none" });
    expect(resolveCamera("shed/drive", local, sats)).toEqual({ box: "none" });
  });

  it("puts a new camera named site/camera on that satellite", () => {
    expect(siteOfNewCamera("garage/porch")).toEqual({ site: "garage", camera: "porch" });
    expect(siteOfNewCamera("porch")).toBeUndefined();
  });

  it("makes camera ids that a button's data can carry, and reads them back", () => {
    const id = remoteCameraId("aaaaaaaaaaaa", "0123456789ab");
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,48}$/);
    expect(splitRemoteCameraId(id)).toEqual({ satelliteId: "aaaaaaaaaaaa", cameraId: "0123456789ab" });
    expect(splitRemoteCameraId("0123456789ab")).toBeUndefined();
  });
});
