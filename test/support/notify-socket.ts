/**
 * A NOTIFY_SOCKET like systemd's: a unix datagram socket (via python3, since Node
 * has no unix datagram sockets) that records every sd_notify message.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("BOUND", flush=True)
while True:
    print(s.recv(65536).decode().replace("\\n", "|"), flush=True)
`;

export class NotifySocket {
  readonly messages: string[] = [];
  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  static async open(dir: string): Promise<NotifySocket> {
    const socketPath = path.join(dir, "notify.sock");
    const child = spawn("python3", ["-c", RECEIVER, socketPath], { stdio: ["ignore", "pipe", "inherit"] });
    const socket = new NotifySocket(socketPath, child);
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).on("line", (line) => {
        if (line === "BOUND") resolve();
        else socket.messages.push(line);
      });
      child.on("exit", (code) => reject(new Error(`notify socket receiver exited with ${code}`)));
    });
    return socket;
  }

  /** Resolves when a message containing `text` has arrived. */
  async waitFor(text: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.messages.find((m) => m.split("|").includes(text));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${text} within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
  }

  close(): void {
    this.child.kill("SIGKILL");
  }
}
