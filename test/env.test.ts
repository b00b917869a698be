import { describe, expect, it } from "vitest";
import { parseEnv } from "../src/env.js";
import { ConfigError } from "../src/errors.js";

describe("parseEnv", () => {
  it("reads the number of detector worker threads, 1 to 16, and refuses anything else in one sentence naming the variable", () => {
    expect(parseEnv({}).detectorThreads).toBeUndefined();
    expect(parseEnv({ VIGIL_DETECTOR_THREADS: "2" }).detectorThreads).toBe(2);
    expect(parseEnv({ VIGIL_DETECTOR_THREADS: "16" }).detectorThreads).toBe(16);
    for (const bad of ["0", "17", "1.5", "two", "-1"]) {
      expect(() => parseEnv({ VIGIL_DETECTOR_THREADS: bad }), bad).toThrow(ConfigError);
      expect(() => parseEnv({ VIGIL_DETECTOR_THREADS: bad }), bad).toThrow("VIGIL_DETECTOR_THREADS must be a whole number from 1 to 16.");
    }
  });
});

describe("the time zone", () => {
  it("is the machine's unless VIGIL_TZ names another, and anything that is not a zone is refused in one sentence", () => {
    expect(parseEnv({}).timeZone).toBe(new Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(parseEnv({ VIGIL_TZ: "Europe/London" }).timeZone).toBe("Europe/London");
    expect(parseEnv({ VIGIL_TZ: " america/new_york " }).timeZone).toBe("America/New_York");
    expect(parseEnv({ VIGIL_TZ: "UTC" }).timeZone).toBe("UTC");
    for (const bad of ["Mars/Olympus", "GMT+25", "Europe/London; rm -rf /"]) {
      expect(() => parseEnv({ VIGIL_TZ: bad }), bad).toThrow(ConfigError);
      expect(() => parseEnv({ VIGIL_TZ: bad }), bad).toThrow("VIGIL_TZ must be an IANA time zone such as Europe/London or America/New_York.");
    }
  });
});

describe("the camera search settings", () => {
  it("default to every interface and WS-Discovery's group, and refuse what is not an address or a group:port in one sentence", () => {
    expect(parseEnv({}).onvif).toEqual({ interfaceAddress: undefined, multicast: undefined, timeoutMs: undefined });
    expect(parseEnv({ VIGIL_ONVIF_INTERFACE: "192.168.1.10", VIGIL_ONVIF_MULTICAST: "239.255.255.250:3702", VIGIL_ONVIF_TIMEOUT: "2.5" }).onvif).toEqual({ interfaceAddress: "192.168.1.10", multicast: { address: "239.255.255.250", port: 3702 }, timeoutMs: 2500 });
    expect(parseEnv({ VIGIL_ONVIF_TIMEOUT: "0" }).onvif.timeoutMs).toBe(0);
    for (const bad of ["0.2", "61", "-1", "3s"]) expect(() => parseEnv({ VIGIL_ONVIF_TIMEOUT: bad }), bad).toThrow("VIGIL_ONVIF_TIMEOUT must be seconds from 0.5 to 60, or 0 to switch the camera search off.");
    expect(() => parseEnv({ VIGIL_ONVIF_INTERFACE: "eth0" })).toThrow("VIGIL_ONVIF_INTERFACE must be an IPv4 address of this machine, such as 192.168.1.10.");
    for (const bad of ["239.255.255.250", "192.168.1.1:3702", "239.255.255.250:99999"]) {
      expect(() => parseEnv({ VIGIL_ONVIF_MULTICAST: bad }), bad).toThrow("VIGIL_ONVIF_MULTICAST must be a multicast group and port, such as 239.255.255.250:3702.");
    }
  });
});
