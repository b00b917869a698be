import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/log.js";
import { createSystemdNotifier } from "../src/systemd.js";
import { NotifySocket } from "./support/notify-socket.js";
import { tempDir } from "./support/tmp.js";

describe("systemd notifications", () => {
  let socket: NotifySocket;
  afterAll(() => socket?.close());

  it("tells systemd it is ready, pings the watchdog at half its period, and says when it stops", async () => {
    socket = await NotifySocket.open(await tempDir());
    const notifier = createSystemdNotifier({ notifySocket: socket.path, watchdogMs: 2000, logger: silentLogger });
    await notifier.ready("2 cameras online");
    expect(await socket.waitFor("READY=1")).toContain("STATUS=2 cameras online");
    const controller = new AbortController();
    notifier.startWatchdog(controller.signal);
    await socket.waitFor("WATCHDOG=1", 10_000);
    controller.abort();
    await notifier.stopping();
    await socket.waitFor("STOPPING=1");
  });
});
