/**
 * `vigil camera scan` as a user runs it, against stand-in ONVIF cameras on
 * loopback (searched from 127.0.0.1 on a multicast group of this file's own).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vigil } from "../support/cli.js";
import { HIKVISION, OnvifTestDevice, testMulticastGroup } from "../support/onvif-device.js";

const PASSWORD = "Sc4n'&pw";
let group: { address: string; port: number };
let hikvision: OnvifTestDevice;
let reolink: OnvifTestDevice;

beforeAll(async () => {
  group = await testMulticastGroup();
  hikvision = await OnvifTestDevice.start({
    ...HIKVISION,
    password: PASSWORD,
    discovery: group,
  });
  // Another login than the one given: its line says so.
  reolink = await OnvifTestDevice.start({ name: "RLC-510A", hardware: "RLC-510A", username: "admin", password: "something else", profiles: [], discovery: group });
});
afterAll(async () => {
  await hikvision?.close();
  await reolink?.close();
});

const scan = (args: string[], input?: string, env: Record<string, string> = {}) => vigil(["camera", "scan", "--interface", "127.0.0.1", "--multicast", `${group.address}:${group.port}`, "--timeout", "2", ...args], env, input);

describe("vigil camera scan", () => {
  it("with a login: each camera's main and sub stream, credentials masked, and the `camera add` line", async () => {
    const result = await scan(["--username", "admin", "--password-stdin"], `${PASSWORD}\n`);
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^address\s+camera\s+main stream \(clips\)\s+sub-stream \(detection\)$/);
    expect(lines[2]).toMatch(/^127\.0\.0\.1\s+HIKVISION DS-2CD2143G2-I\s+rtsp:\/\/admin:\*\*\*@127\.0\.0\.1:8554\/Streaming\/Channels\/101\?transportmode=unicast&profile=Profile_1 \(2560x1440\)\s+rtsp:\/\/admin:\*\*\*@127\.0\.0\.1:8554\/Streaming\/Channels\/102\?transportmode=unicast&profile=Profile_2 \(640x360\)$/);
    expect(result.stdout).toContain(`127.0.0.1 RLC-510A: The camera at ${new URL(reolink.xaddr).host} refused the username or password (ONVIF GetCapabilities).`);
    expect(result.stdout).toContain("To add it (the password is read from standard input):\n  vigil camera add NAME 'rtsp://127.0.0.1:8554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2' --username admin --password-stdin --record-url 'rtsp://127.0.0.1:8554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1'\n");
    expect(result.stderr).toContain("Looking for ONVIF cameras for 2 s…");
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it("without a login: the cameras, their addresses and ONVIF services", async () => {
    const result = await scan([]);
    expect(result.code).toBe(0);
    const rows = result.stdout.split("\n");
    expect(rows[2]).toMatch(new RegExp(`^127\\.0\\.0\\.1\\s+HIKVISION DS-2CD2143G2-I\\s+${hikvision.xaddr.replace(/[.?/]/g, "\\$&")}$`));
    expect(rows[3]).toMatch(/^127\.0\.0\.1\s+RLC-510A\s+http:\/\/127\.0\.0\.1:\d+\/onvif\/device_service$/);
    expect(rows[4]).toBe("Give --username USER --password-stdin to read each camera's stream URLs.");
  });

  it("when no camera answers: the one sentence and the usual URL patterns, exit 1", async () => {
    const other = await testMulticastGroup();
    const result = await vigil(["camera", "scan", "--interface", "127.0.0.1", "--multicast", `${other.address}:${other.port}`, "--timeout", "0.5"], {});
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toBe("No camera answered the ONVIF search (the camera may not speak ONVIF, or this network may not pass multicast), so its stream URL has to be given by hand.");
    expect(lines[1]).toBe("The usual stream URLs (put the camera's address in place of IP):");
    expect(lines).toContain("  Reolink         rtsp://IP:554/h264Preview_01_sub");
    expect(lines).toContain("  Hikvision       rtsp://IP:554/Streaming/Channels/102");
    expect(lines.at(-1)).toBe("Then: vigil camera add NAME URL --username USER --password-stdin");
  });

  it("refuses an interface that is not this machine's, a bad group, a bad timeout and a bad VIGIL_ONVIF_MULTICAST, each in one sentence", async () => {
    const notMine = await vigil(["camera", "scan", "--interface", "203.0.113.7", "--timeout", "0.5"], {});
    expect(notMine.code).toBe(1);
    expect(notMine.stderr.trim().split("\n").at(-1)).toMatch(/^203\.0\.113\.7 is not an address of this machine, so the search cannot go out from it( \(this machine has [\d., ]+\))?\.$/);
    const badGroup = await vigil(["camera", "scan", "--multicast", "10.1.1.1:3702"], {});
    expect(badGroup.stderr.trim()).toBe('"10.1.1.1:3702" is not a multicast group and port; the WS-Discovery default is 239.255.255.250:3702.');
    const badTimeout = await scan(["--timeout", "forever"]);
    expect(badTimeout.stderr.trim()).toBe('--timeout takes seconds from 0.5 to 60 (for example 3), not "forever".');
    const badEnv = await vigil(["camera", "scan"], { VIGIL_ONVIF_MULTICAST: "239.255.255.250" });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr.trim()).toBe("VIGIL_ONVIF_MULTICAST must be a multicast group and port, such as 239.255.255.250:3702.");
    const noUser = await scan(["--password-stdin"], "x\n");
    expect(noUser.stderr.trim()).toBe("Give --username with --password-stdin.");
  });
});
