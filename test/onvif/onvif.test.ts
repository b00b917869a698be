/**
 * The ONVIF client against stand-in cameras on loopback: the search (pinned to
 * 127.0.0.1 and a multicast group of this file's own), reading a camera's
 * streams with a real password digest, and every way a camera can fail, each
 * one sentence without the password in it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OnvifError } from "../../src/errors.js";
import { chooseStreams, discoverCameras, parseMulticastTarget, readCameraStreams, type MediaProfile } from "../../src/onvif/index.js";
import { searchAddresses } from "../../src/onvif/discovery.js";
import { digestAuthorization, passwordDigest, readDigestChallenge } from "../../src/onvif/soap.js";
import { until } from "../support/wait.js";
import { HIKVISION, OnvifTestDevice, testMulticastGroup, type OnvifDeviceOptions } from "../support/onvif-device.js";

const PASSWORD = "Gr\u00fcn&<Tor> pw";
const group = await testMulticastGroup();
const devices: OnvifTestDevice[] = [];

const hikvision = (extra: Partial<OnvifDeviceOptions> = {}): Promise<OnvifTestDevice> =>
  OnvifTestDevice.start({
    ...HIKVISION,
    password: PASSWORD,
    ...extra,
  }).then((d) => (devices.push(d), d));

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
});

const expectOneSentence = (error: unknown) => {
  expect(error).toBeInstanceOf(OnvifError);
  const message = (error as Error).message;
  expect(message).toMatch(/^[A-Z0-9"].*\.$/);
  expect(message.split(/\.\s+[A-Z]/)).toHaveLength(1);
  expect(message).not.toContain(PASSWORD);
  return message;
};

describe("the search (WS-Discovery)", () => {
  let hik: OnvifTestDevice;
  let reolink: OnvifTestDevice;
  beforeAll(async () => {
    hik = await hikvision({ discovery: group, junkBeforeProbeMatch: "<?xml version='1.0'?><not-closed" });
    reolink = await OnvifTestDevice.start({ name: "RLC-510A", hardware: "RLC-510A", username: "admin", password: PASSWORD, profiles: [], discovery: group }).then((d) => (devices.push(d), d));
    // A camera without discovery: it is not found, however long the search.
    await hikvision();
    // A hostile device: a 60 KB datagram nested 20,000 deep first, then a name of 500 characters with control characters.
    await OnvifTestDevice.start({ name: `Evil\u0007\n${"x".repeat(500)}`, hardware: "h", username: "a", password: "b", profiles: [], discovery: group, junkBeforeProbeMatch: "<a>".repeat(20_000) }).then((d) => devices.push(d));
  });

  it("finds every camera that answers on the pinned interface and group, with its name, model and address, and ignores junk and hostile datagrams", async () => {
    const result = await discoverCameras({ interfaceAddress: "127.0.0.1", multicast: group, timeoutMs: 3000 });
    expect(result.interfaces).toEqual(["127.0.0.1"]);
    const byId = new Map(result.cameras.map((c) => [c.id, c]));
    expect(result.cameras).toHaveLength(3);
    expect(result.cameras.find((c) => c.name?.startsWith("Evil"))?.name).toBe(`Evil ${"x".repeat(34)}…`);
    expect(byId.get(hik.endpoint)).toEqual({ id: hik.endpoint, address: "127.0.0.1", xaddr: hik.xaddr, name: "HIKVISION DS-2CD2143G2-I", hardware: "DS-2CD2143G2-I" });
    expect(byId.get(reolink.endpoint)).toMatchObject({ address: "127.0.0.1", xaddr: reolink.xaddr, name: "RLC-510A" });
    // Each probe is sent twice; the camera answers both and is listed once. The junk datagrams are counted and dropped.
    expect(hik.probes).toBeGreaterThanOrEqual(1);
    expect(result.ignored).toBeGreaterThanOrEqual(1);
  });

  it("hears nothing on another group, and an AbortSignal ends the search at once", async () => {
    const other = await testMulticastGroup();
    expect((await discoverCameras({ interfaceAddress: "127.0.0.1", multicast: other, timeoutMs: 800 })).cameras).toEqual([]);
    const controller = new AbortController();
    const search = discoverCameras({ interfaceAddress: "127.0.0.1", multicast: group, timeoutMs: 600_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await search).interfaces).toEqual(["127.0.0.1"]);
  });

  it("refuses an interface that is not this machine's, a bad group and a machine with only loopback, in one sentence each, sending nothing", async () => {
    const notMine = await discoverCameras({ interfaceAddress: "203.0.113.7", multicast: group, timeoutMs: 500 }).catch((e: unknown) => e);
    expect(expectOneSentence(notMine)).toMatch(/^203\.0\.113\.7 is not an address of this machine, so the search cannot go out from it/);
    expect(expectOneSentence(await discoverCameras({ interfaceAddress: "eth0", timeoutMs: 500 }).catch((e: unknown) => e))).toMatch(/^"eth0" is not an IPv4 address/);
    const lonely = await discoverCameras({ networkInterfaces: () => ({ lo: [{ address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "00:00:00:00:00:00", internal: true, cidr: "127.0.0.1/8" }] }), timeoutMs: 500 }).catch((e: unknown) => e);
    expect(expectOneSentence(lonely)).toBe("This machine has no network connection besides loopback, so there is no network to search for cameras.");
    expect(() => parseMulticastTarget("239.255.255.250")).toThrow(/^"239\.255\.255\.250" is not a multicast group and port; the WS-Discovery default is 239\.255\.255\.250:3702\.$/);
    expect(() => parseMulticastTarget("10.0.0.1:3702")).toThrow(OnvifError);
    expect(parseMulticastTarget("239.255.255.250:3702")).toEqual({ address: "239.255.255.250", port: 3702 });
  });

  it("searches from every IPv4 interface but loopback by default", () => {
    const nic = (address: string, internal = false) => ({ address, netmask: "255.255.255.0", family: "IPv4" as const, mac: "02:00:00:00:00:01", internal, cidr: `${address}/24` });
    const v6 = { address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6" as const, mac: "02:00:00:00:00:01", internal: false, cidr: "fe80::1/64", scopeid: 2 };
    expect(searchAddresses({ lo: [nic("127.0.0.1", true)], eth0: [nic("192.168.1.10"), v6], eth1: [nic("10.10.0.2")] })).toEqual(["192.168.1.10", "10.10.0.2"]);
  });
});

describe("a camera's streams (ONVIF media)", () => {
  it("with the right login: the sub-stream for detection, the main stream for recording, the clock read first without a login", async () => {
    const hik = await hikvision();
    const streams = await readCameraStreams(hik.xaddr, { username: "admin", password: PASSWORD });
    expect(streams).toEqual({
      detect: { url: "rtsp://127.0.0.1:8554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2", width: 640, height: 360, encoding: "H264", profile: "subStream" },
      record: { url: "rtsp://127.0.0.1:8554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1", width: 2560, height: 1440, encoding: "H264", profile: "mainStream" },
      videoSources: 1,
    });
    expect(hik.requests).toEqual([
      { operation: "GetSystemDateAndTime", authenticated: false, refused: "no UsernameToken" },
      { operation: "GetCapabilities", authenticated: true },
      { operation: "GetProfiles", authenticated: true },
      { operation: "GetStreamUri", authenticated: true },
      { operation: "GetStreamUri", authenticated: true },
    ]);
  });

  it("signs with the camera's clock when it is hours off ours", async () => {
    const skewed = await hikvision({ clockSkewMs: -3 * 3600_000 - 17_000, authFaultStatus: 401 });
    const streams = await readCameraStreams(skewed.xaddr, { username: "admin", password: PASSWORD });
    expect(streams.detect.width).toBe(640);
    expect(skewed.requests.filter((r) => r.refused && r.operation !== "GetSystemDateAndTime")).toEqual([]);
  });

  it("a wrong password is one sentence, whether the camera answers 400 (Reolink) or 401 (Hikvision)", async () => {
    for (const status of [400, 401] as const) {
      const camera = await hikvision({ authFaultStatus: status });
      const error = await readCameraStreams(camera.xaddr, { username: "admin", password: "not it" }).catch((e: unknown) => e);
      expect(expectOneSentence(error)).toBe(`The camera at ${new URL(camera.xaddr).host} refused the username or password (ONVIF GetCapabilities).`);
      expect((error as OnvifError).reason).toBe("unauthorized");
      expect(camera.requests.at(-1)).toMatchObject({ operation: "GetCapabilities", refused: "wrong username or password" });
      const none = await readCameraStreams(camera.xaddr, {}).catch((e: unknown) => e);
      expect(expectOneSentence(none)).toMatch(/needs a username and password \(ONVIF GetCapabilities\)\.$/);
    }
  });

  it("uses GetServices when GetCapabilities is refused, and the address it reached when the camera names another", async () => {
    // A camera that reports a stale address of its own (or a device that would send the login elsewhere).
    const camera = await hikvision({
      noCapabilities: true,
      mediaHost: "127.0.0.2",
      profiles: [
        { token: "main", name: "main", width: 2560, height: 1440, streamUri: "rtsp://10.0.0.64:554/h264Preview_01_main" },
        { token: "sub", name: "sub", width: 640, height: 360, streamUri: "rtsp://10.0.0.64:554/h264Preview_01_sub" },
      ],
    });
    const streams = await readCameraStreams(camera.xaddr, { username: "admin", password: PASSWORD });
    expect([streams.record.url, streams.detect.url]).toEqual(["rtsp://127.0.0.1:554/h264Preview_01_main", "rtsp://127.0.0.1:554/h264Preview_01_sub"]);
    expect(camera.requests.map((r) => r.operation)).toEqual(["GetSystemDateAndTime", "GetCapabilities", "GetServices", "GetProfiles", "GetStreamUri", "GetStreamUri"]);
  });

  it("a camera set to HTTP Digest gets its 401 challenge answered, and a wrong password is still one sentence", async () => {
    const camera = await hikvision({ login: "http-digest" });
    const streams = await readCameraStreams(camera.xaddr, { username: "admin", password: PASSWORD });
    expect(streams.detect.width).toBe(640);
    // Each call: the challenge, then the answer to it.
    expect(camera.requests.filter((r) => r.operation === "GetProfiles")).toEqual([{ operation: "GetProfiles", authenticated: false, refused: "no HTTP Digest" }, { operation: "GetProfiles", authenticated: true }]);
    const wrong = await readCameraStreams(camera.xaddr, { username: "admin", password: "not it" }).catch((e: unknown) => e);
    expect(expectOneSentence(wrong)).toBe(`The camera at ${new URL(camera.xaddr).host} refused the username or password (ONVIF GetCapabilities).`);
    expect(camera.requests.at(-1)).toMatchObject({ operation: "GetCapabilities", refused: "wrong username or password" });
  });

  it("a dead ONVIF service, malformed XML and a 50 MB answer are each one sentence, and the answer is read no further than 1 MiB", async () => {
    const dead = await hikvision({ http: "dead" });
    const refused = await readCameraStreams(dead.xaddr, { username: "admin", password: PASSWORD }).catch((e: unknown) => e);
    expect(expectOneSentence(refused)).toBe(`The camera at ${new URL(dead.xaddr).host} refused the connection to its ONVIF service.`);

    const malformed = await hikvision({ http: "malformed" });
    const broken = await readCameraStreams(malformed.xaddr, { username: "admin", password: PASSWORD }).catch((e: unknown) => e);
    expect(expectOneSentence(broken)).toBe(`The camera at ${new URL(malformed.xaddr).host} answered GetSystemDateAndTime with something that is not ONVIF.`);
    expect((broken as OnvifError).reason).toBe("invalid");

    const huge = await hikvision({ http: "huge" });
    const flood = await readCameraStreams(huge.xaddr, { username: "admin", password: PASSWORD }).catch((e: unknown) => e);
    expect(expectOneSentence(flood)).toBe(`The camera at ${new URL(huge.xaddr).host} sent more than 1024 KB in answer to GetSystemDateAndTime, which is not an ONVIF answer; I stopped reading.`);
    await until(() => huge.cutOff === 1, 10_000, "the client hung up on the 50 MB answer");
  });

  it("a camera that never answers is a timeout sentence", async () => {
    const net = await import("node:net");
    const silent = net.createServer(() => undefined).listen(0, "127.0.0.1");
    await new Promise((resolve) => silent.once("listening", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const error = await readCameraStreams(`http://127.0.0.1:${port}/onvif/device_service`, { username: "admin", password: PASSWORD }, { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(expectOneSentence(error)).toBe(`The camera at 127.0.0.1:${port} did not answer GetSystemDateAndTime within 0.5 s.`);
    } finally {
      silent.close();
    }
  });
});

describe("choosing streams and signing (pure)", () => {
  const profile = (token: string, width: number, height: number, extra: Partial<MediaProfile> = {}): MediaProfile => ({ token, name: token, source: "VideoSource_1", encoding: "H264", width, height, ...extra });

  it("takes the largest for recording and the smallest at least 480 wide for detection, from the first video input only", () => {
    const third = chooseStreams([profile("main", 3840, 2160), profile("sub", 640, 480), profile("third", 320, 240)]);
    expect([third?.detect.token, third?.record.token]).toEqual(["sub", "main"]);
    const nvr = chooseStreams([profile("c1main", 1920, 1080), profile("c1sub", 704, 576), profile("c2main", 3840, 2160, { source: "VideoSource_2" }), profile("c2sub", 640, 360, { source: "VideoSource_2" })]);
    expect([nvr?.detect.token, nvr?.record.token, nvr?.videoSources]).toEqual(["c1sub", "c1main", 2]);
    const h265sub = chooseStreams([profile("main", 2560, 1440, { encoding: "H265" }), profile("sub", 640, 360, { encoding: "H265" }), profile("mjpeg", 640, 360, { encoding: "JPEG" })]);
    expect([h265sub?.detect.token, h265sub?.record.token]).toEqual(["sub", "main"]);
    const one = chooseStreams([profile("only", 1280, 720), profile("audio", 0, 0)]);
    expect(one?.detect).toBe(one?.record);
    expect(chooseStreams([profile("audio", 0, 0)])).toBeUndefined();
  });

  it("answers RFC 2617's HTTP Digest example, and reads challenges it can answer", () => {
    const challenge = readDigestChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    expect(challenge).toEqual({ realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque: "5ccc069c403ebaf9f0171e9517f40e41", algorithm: "MD5", qopAuth: true });
    const header = digestAuthorization(challenge!, { username: "Mufasa", password: "Circle Of Life" }, "GET", new URL("http://www.nowhere.org/dir/index.html"), "0a4f113b");
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(readDigestChallenge('Basic realm="x"')).toBeUndefined();
    expect(readDigestChallenge('Digest realm="x", nonce="n", algorithm=SHA-512-256')).toBeUndefined();
  });

  it("computes the ONVIF Application Programmer's Guide digest example", () => {
    expect(passwordDigest(Buffer.from("LKqI6G/AikKCQrN0zqZFlg==", "base64"), "2010-09-16T07:50:45Z", "userpassword")).toBe("tuOSpGlFlIXsozq4HFNeeGeFLEI=");
  });
});
