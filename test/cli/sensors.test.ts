/** `vigil sensor` and `vigil webhook` from the command line: what they store, what they show, and one sentence for each mistake. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { vigil } from "../support/cli.js";
import { filesContaining, tempDir } from "../support/tmp.js";

const TOKEN = "7000003:AAF-sensor-test-token-ddddddddddddddddddddd";

describe("vigil sensor and vigil webhook", () => {
  it("adds, lists, links and removes sensors of every kind; a webhook secret is shown once and stored encrypted", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "hall", "rtsp://192.168.1.21:554/stream2"], env)).code).toBe(0);
    expect((await vigil(["camera", "add", "porch", "rtsp://192.168.1.22:554/stream2"], env)).code).toBe(0);

    const z2m = await vigil(["sensor", "add", "front_door", "--mqtt", "zigbee2mqtt/front_door"], env);
    expect(z2m.stdout).toContain("Added door sensor front_door (MQTT zigbee2mqtt/front_door (Zigbee2MQTT), debounce 300 ms, alerts in home, away, night).");
    const generic = await vigil(["sensor", "add", "balcony", "--mqtt", "home/balcony", "--field", "state", "--open-value", "OPEN", "--window", "--debounce", "500", "--modes", "night,away"], env);
    expect(generic.stdout).toContain("Added window sensor balcony (MQTT home/balcony, state = OPEN is open, debounce 500 ms, alerts in away, night).");
    const gpio = await vigil(["sensor", "add", "cellar", "--gpio", "gpiochip0:17", "--active-low"], env);
    expect(gpio.stdout).toContain("(GPIO gpiochip0:17, active low, debounce 300 ms, alerts in home, away, night)");
    const hook = await vigil(["sensor", "add", "garage", "--webhook"], env);
    const secret = /webhook secret \(shown only now; the sender signs with it\): ([0-9a-f]{64})/.exec(hook.stdout)?.[1];
    expect(secret).toBeDefined();

    const link = await vigil(["sensor", "link", "front_door", "hall", "porch"], env);
    expect(link.stdout.trim()).toBe("front_door is linked to hall, porch.");
    const list = await vigil(["sensor", "list"], env);
    expect(list.stdout).toMatch(/front_door\s+door\s+MQTT zigbee2mqtt\/front_door \(Zigbee2MQTT\)\s+hall, porch\s+home, away, night\s+300 ms/);
    expect((await vigil(["sensor", "modes", "front_door", "away"], env)).stdout.trim()).toBe("front_door alerts in away.");
    expect((await vigil(["sensor", "modes", "front_door", "off"], env)).stderr.trim()).toBe("Nothing alerts in off; give the modes the sensor alerts in (home, away, night).");
    expect(list.stdout).toMatch(/garage\s+door\s+webhook\s+-/);
    const config = await vigil(["config", "show"], { VIGIL_DATA_DIR: dataDir, VIGIL_PASSPHRASE: "a long passphrase" });
    expect(config.stdout).toContain('"secret": "***"');
    for (const output of [list, config, link]) expect(output.stdout + output.stderr).not.toContain(secret!);
    expect(await filesContaining(dataDir, secret!)).toEqual([]);
    expect(await filesContaining(dataDir, "zigbee2mqtt/front_door")).toEqual([]);

    const listen = await vigil(["webhook", "listen", "127.0.0.1:8089"], env);
    expect(listen.stdout.trim()).toBe("The webhook listener will listen on 127.0.0.1:8089 when Vigil starts.");
    expect((await vigil(["webhook", "off"], env)).stdout.trim()).toBe("The webhook listener is off.");

    expect((await vigil(["sensor", "remove", "garage"], env)).stdout.trim()).toBe("Removed sensor garage.");
    expect((await vigil(["camera", "remove", "porch"], env)).code).toBe(0);
    expect((await vigil(["sensor", "list"], env)).stdout).toMatch(/front_door\s+door\s+MQTT zigbee2mqtt\/front_door \(Zigbee2MQTT\)\s+hall\s+/);
  }, 90_000);

  it("refuses each mistake in one sentence, exit 1 or 2, and changes nothing", async () => {
    const dataDir = path.join(await tempDir(), "data");
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_BOT_TOKEN: TOKEN, VIGIL_PASSPHRASE: "a long passphrase" };
    expect((await vigil(["init", "--non-interactive", "--kdf", "interactive"], env)).code).toBe(0);
    expect((await vigil(["sensor", "add", "front_door", "--mqtt", "zigbee2mqtt/front_door"], env)).code).toBe(0);
    const mistakes: [string[], string][] = [
      [["sensor", "add", "x"], "Give exactly one source: --mqtt TOPIC, --webhook or --gpio CHIP:LINE."],
      [["sensor", "add", "x", "--webhook", "--gpio", "gpiochip0:4"], "Give exactly one source: --mqtt TOPIC, --webhook or --gpio CHIP:LINE."],
      [["sensor", "add", "x", "--mqtt", "zigbee2mqtt/#"], "A sensor's MQTT topic is 1 to 200 characters without wildcards (+ or #), e.g. zigbee2mqtt/front_door."],
      [["sensor", "add", "x", "--mqtt", "vigil/home/alarm/set"], "A sensor cannot listen under vigil/: that is where Vigil publishes."],
      [["sensor", "add", "x", "--mqtt", "zigbee2mqtt/front_door"], "Another sensor already listens on zigbee2mqtt/front_door."],
      [["sensor", "add", "front_door", "--webhook"], "There is already a sensor called front_door; choose another name."],
      [["sensor", "add", "a b", "--webhook"], "A sensor name is 1 to 32 letters, digits, `_` or `-`, with no spaces (for example front_door)."],
      [["sensor", "add", "x", "--gpio", "17"], 'A GPIO line is CHIP:LINE, like gpiochip0:17; "17" is not.'],
      [["sensor", "add", "x", "--webhook", "--active-low"], "--active-low goes with --gpio."],
      [["sensor", "add", "x", "--webhook", "--debounce", "99999999"], "The debounce is a whole number of milliseconds from 0 to 10000."],
      [["sensor", "link", "front_door", "attic"], 'There is no camera called "attic"; there are no cameras yet (add one with /addcamera).'],
      [["sensor", "remove", "nobody"], 'There is no sensor called "nobody"; the sensors are front_door.'],
      [["webhook", "listen", "8089"], 'Give the address and port to listen on, like 192.168.1.10:8089; "8089" is not one.'],
    ];
    for (const [args, sentence] of mistakes) {
      const result = await vigil(args, env);
      expect({ args, stderr: result.stderr.trim() }).toEqual({ args, stderr: sentence });
      expect(result.code).not.toBe(0);
    }
    expect((await vigil(["sensor", "list"], env)).stdout.trim().split("\n")).toHaveLength(3);
  }, 120_000);
});
