/**
 * /addcamera on a network with ONVIF cameras (stand-ins on loopback, searched on
 * a multicast group of this file's own): the search offers them as buttons,
 * a camera whose ONVIF service is dead and a wrong password each get one
 * sentence and a way on, and the right login brings the sub-stream for
 * detection (its real picture, from the RTSP test server) and the main stream
 * for clips, saved with the camera.
 */
import type { Chat, Message, User } from "grammy/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesContaining } from "../support/tmp.js";
import { OnvifTestDevice, testMulticastGroup } from "../support/onvif-device.js";
import { footage, startRtspServer, type RtspTestServer } from "../support/rtsp-server.js";
import { claim, startHarness, type Harness } from "./harness.js";

const CAMERA_PASSWORD = "Dr1ve&Gate pw";
const CLIP = footage("bgslibrary_video03_road-traffic-trees.avi");

let h: Harness;
let rtsp: RtspTestServer;
let hikvision: OnvifTestDevice;
let reolink: OnvifTestDevice;
let alice: User;
let group: Chat;
const logLines: string[] = [];

beforeAll(async () => {
  rtsp = await startRtspServer({
    mounts: [
      { name: "main", clip: CLIP, clipOptions: { width: 1280, height: 720, fps: 5 } },
      { name: "sub", clip: CLIP, clipOptions: { width: 640, height: 360, fps: 5 } },
    ],
    auth: { user: "admin", password: CAMERA_PASSWORD },
  });
  const onvifGroup = await testMulticastGroup();
  hikvision = await OnvifTestDevice.start({
    name: "HIKVISION DS-2CD2143G2-I",
    hardware: "DS-2CD2143G2-I",
    username: "admin",
    password: CAMERA_PASSWORD,
    authFaultStatus: 401,
    clockSkewMs: 2 * 3600_000,
    profiles: [
      { token: "Profile_1", name: "mainStream", width: 1280, height: 720, streamUri: rtsp.url("main", null) },
      { token: "Profile_2", name: "subStream", width: 640, height: 360, streamUri: rtsp.url("sub", null) },
    ],
    discovery: onvifGroup,
  });
  // Answers the search, but its ONVIF service is dead.
  reolink = await OnvifTestDevice.start({ name: "RLC-510A", hardware: "RLC-510A", username: "admin", password: CAMERA_PASSWORD, profiles: [], discovery: onvifGroup, http: "dead" });
  h = await startHarness({ onvifGroup, logLines });
  alice = h.tg.user({ firstName: "Alice" });
  group = h.tg.group({ title: "Home", owner: alice, botIsAdmin: true });
  await claim(h, alice, group);
}, 180_000);
afterAll(async () => {
  await h?.stop();
  await hikvision?.close();
  await reolink?.close();
  await rtsp?.close();
});

const answer = (text: string, count = 1) => h.askAll(alice, group, text, count, { replyTo: h.lastBotMessage(group) });
async function press(message: Message, label: string, count = 1): Promise<Message[]> {
  const p = h.tg.press(alice, message, label);
  await h.tg.answerOf(p);
  return h.sentSince(group, p.mark, count);
}
const buttons = (message: Message | undefined) => h.tg.message(group.id, message!.message_id)?.reply_markup?.inline_keyboard.flat().map((b) => b.text);

describe("/addcamera with ONVIF cameras on the network", () => {
  it("offers the cameras found; a dead ONVIF service is one sentence with a way on", async () => {
    await h.askAll(alice, group, "/addcamera", 2);
    const [looking] = await answer("porch");
    // The search message is edited into the result once the search is over.
    await h.tg.waitFor((r) => r.method === "editMessageText" && r.ok === true && r.params.message_id === looking!.message_id, { timeoutMs: 30_000 });
    const found = h.tg.message(group.id, looking!.message_id)!;
    expect(found.text).toBe("I found 2 cameras on your network. Which one is it?");
    expect(buttons(found)).toEqual(["HIKVISION DS-2CD2143G2-I · 127.0.0.1", "RLC-510A · 127.0.0.1", "Enter a URL myself"]);
    expect(h.tg.requests.find((r) => r.method === "sendMessage" && (r.result as Message | undefined)?.message_id === looking!.message_id)?.params.text).toBe("Looking for cameras on your network…");

    expect((await press(found, "RLC-510A · 127.0.0.1"))[0]!.text).toBe("The camera's username? Send - if it needs none.");
    expect(h.tg.message(group.id, found.message_id)!.text).toBe("Adding RLC-510A at 127.0.0.1.");
    expect(buttons(found)).toBeUndefined();
    await answer("admin");
    const [asking, failed] = await answer(CAMERA_PASSWORD, 2);
    expect(asking!.text).toBe("Asking RLC-510A at 127.0.0.1 for its streams…");
    expect(failed!.text).toBe(`The camera at ${new URL(reolink.xaddr).host} refused the connection to its ONVIF service. Check that the camera is on; some cameras need ONVIF switched on in their settings.`);
    expect(buttons(failed)).toEqual(["Try again", "Change login", "Enter a URL myself", "Cancel"]);

    // Typing the URL instead leads to today's question with the patterns.
    const [urlQuestion] = await press(failed!, "Enter a URL myself");
    expect(urlQuestion!.text).toMatch(/^The camera's stream URL\? .*\nReolink: rtsp:\/\/IP:554\/h264Preview_01_sub\n/);
    expect((await h.ask(alice, group, "/cancel")).text).toBe("Stopped adding the camera; nothing was saved.");
  });

  it("a wrong password is one sentence; the right one brings the sub-stream's picture, and Save keeps the main stream for clips", async () => {
    await h.askAll(alice, group, "/addcamera", 2);
    const [looking] = await answer("drive");
    await h.tg.waitFor((r) => r.method === "editMessageText" && r.ok === true && r.params.message_id === looking!.message_id, { timeoutMs: 30_000 });
    await press(h.tg.message(group.id, looking!.message_id)!, "HIKVISION DS-2CD2143G2-I · 127.0.0.1");
    await answer("admin");
    const [, wrong] = await answer("not the password", 2);
    expect(wrong!.text).toBe(`The camera at ${new URL(hikvision.xaddr).host} refused the username or password (ONVIF GetCapabilities). Check the username and password (the camera's own login, often admin).`);
    expect(h.tg.messages(group).some((m) => m.text === "not the password")).toBe(false);

    expect((await press(wrong!, "Change login"))[0]!.text).toBe("The camera's username? Send - if it needs none.");
    await answer("admin");
    const [asking, streams, connecting, photo] = await answer(CAMERA_PASSWORD, 4);
    expect(asking!.text).toBe("Asking HIKVISION DS-2CD2143G2-I at 127.0.0.1 for its streams…");
    expect(h.tg.messages(group).some((m) => m.text === CAMERA_PASSWORD)).toBe(false);
    expect(streams!.text).toBe("Its 640x360 sub-stream is for detection and its 1280x720 main stream for clips.");
    expect(connecting!.text).toBe(`Connecting to ${rtsp.url("sub", null)}…`);
    // The camera's clock is two hours off ours: the login was signed with its clock, and it refused nothing but the wrong password.
    expect(hikvision.requests.filter((r) => r.refused && r.operation !== "GetSystemDateAndTime").map((r) => r.refused)).toEqual(["wrong username or password"]);

    expect(photo!.caption).toMatch(/^This is what drive sees \(640x360, first picture after [\d.]+ s\); clips come from its 1280x720 main stream\. Save it\?$/);
    expect(photo!.photo?.[0]).toMatchObject({ width: 640, height: 360 });

    expect((await press(photo!, "Save"))[0]!.text).toMatch(/^Saved drive\./);
    expect(h.store.camera("drive")).toMatchObject({ url: rtsp.url("sub", null), recordUrl: rtsp.url("main", null), username: "admin", password: CAMERA_PASSWORD });
    await h.store.flush();
    expect(await filesContaining(h.dir, CAMERA_PASSWORD)).toEqual([]);
    expect(JSON.stringify(h.tg.requests.map((r) => r.params))).not.toContain(CAMERA_PASSWORD);
    // What Vigil logged on the way (the search, the refused login, the camera added) names no password.
    expect(logLines.some((line) => line.includes("could not read a camera's streams over ONVIF"))).toBe(true);
    expect(logLines.filter((line) => line.includes(CAMERA_PASSWORD) || line.includes("not the password"))).toEqual([]);
  });
});
