/** Home Assistant discovery as built, checked against HA's documented schema, and a component that is gone removed the way HA asks. */
import { describe, expect, it } from "vitest";
import { buildDiscovery } from "../../src/mqtt/discovery.js";
import { siteTopics } from "../../src/mqtt/topics.js";
import { discoveryProblems } from "./ha-schema.js";

const input = (cameras: { id: string; name: string }[]) => ({
  prefix: "homeassistant",
  site: "flat",
  topics: siteTopics("flat"),
  cameras,
  sensors: [
    { id: "s1", name: "front_door", kind: "door" as const, source: { type: "mqtt" as const, topic: "zigbee2mqtt/front_door", format: "zigbee2mqtt" as const } },
    { id: "s2", name: "cellar", kind: "window" as const, source: { type: "gpio" as const, chip: "gpiochip0", line: 17, activeLow: false } },
  ],
  version: "0.1.0",
});

describe("Home Assistant discovery", () => {
  it("is one device whose every component HA's schema accepts", () => {
    const d = buildDiscovery(input([{ id: "c1", name: "yard" }, { id: "c2", name: "hall" }]));
    expect(d.topic).toBe("homeassistant/device/vigil_flat/config");
    expect(discoveryProblems(d.payload)).toEqual([]);
    expect(d.payload.dev).toMatchObject({ ids: ["vigil_flat"], name: "Vigil flat" });
    expect(Object.keys(d.payload.cmps)).toHaveLength(3 + 2 * 4 + 3);
    expect(d.payload.cmps.vigil_flat_s2_contact).toMatchObject({ p: "binary_sensor", device_class: "window", state_topic: "vigil/flat/doors/cellar/state" });
    expect(d.payload.cmps.vigil_flat_alarm).toMatchObject({ p: "alarm_control_panel", command_topic: "vigil/flat/alarm/set", state_topic: "vigil/flat/alarm/state", supported_features: ["arm_home", "arm_away", "arm_night"] });
  });

  it("removes a camera's components by sending each once with its platform alone", () => {
    const before = buildDiscovery(input([{ id: "c1", name: "yard" }, { id: "c2", name: "hall" }]));
    const after = buildDiscovery(input([{ id: "c1", name: "yard" }]), Object.values(before.payload.cmps));
    expect(after.payload.cmps.vigil_flat_c2_motion).toEqual({ p: "binary_sensor" });
    expect(after.payload.cmps.vigil_flat_c2_last_alert).toEqual({ p: "image" });
    expect(after.payload.cmps.vigil_flat_c1_motion).toMatchObject({ state_topic: "vigil/flat/yard/motion" });
    expect(discoveryProblems(after.payload)).toEqual([]);
  });

  it("the schema check itself catches what HA would refuse", () => {
    const d = buildDiscovery(input([{ id: "c1", name: "yard" }]));
    const broken = structuredClone(d.payload) as unknown as { cmps: Record<string, Record<string, unknown>>; o?: unknown };
    broken.cmps.vigil_flat_alarm!.state_topic = "vigil/+/alarm";
    broken.cmps.vigil_flat_c1_motion!.device_class = "burglar";
    delete broken.cmps.vigil_flat_armed!.command_topic;
    broken.cmps.vigil_flat_alert!.colour = "red";
    delete broken.o;
    expect(discoveryProblems(broken)).toEqual(expect.arrayContaining([
      'vigil_flat_alarm: state_topic = "vigil/+/alarm" is not valid',
      'vigil_flat_c1_motion: device_class = "burglar" is not valid',
      "vigil_flat_armed: missing command_topic",
      "vigil_flat_alert: unknown option colour",
      "o.name is required for device discovery",
    ]));
  });
});
