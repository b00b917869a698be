/**
 * A TCP proxy on 127.0.0.1 that can cut the network between a client and a
 * server the way a dead link or a pulled cable does: nothing is forwarded and
 * nothing is refused or closed, so each side only learns of it from its own
 * timeouts (MQTT's keepalive). New connections during the cut hang the same
 * way. When the link comes back, the connections that lived through the cut
 * are dropped (their bytes were lost; TCP would have given up on them), and
 * new ones are forwarded again.
 */
import net from "node:net";

export interface TcpProxy {
  port: number;
  /** Stops forwarding, silently. */
  cut(): void;
  /** Forwards again (connections from before or during the cut are dropped). */
  restore(): void;
  /** Bytes forwarded so far: from the client to the server (`up`) and back (`down`). */
  bytes(): { up: number; down: number };
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let cut = false;
  const counted = { up: 0, down: 0 };
  /** Every pair alive, and whether it saw a cut. */
  const pairs = new Set<{ client: net.Socket; server: net.Socket | undefined; stale: boolean }>();
  const server = net.createServer((client) => {
    const pair: { client: net.Socket; server: net.Socket | undefined; stale: boolean } = { client, server: undefined, stale: cut };
    pairs.add(pair);
    // A side that gives up during the cut is not heard of on the other side: the other learns of it by its own timeout (or at restore).
    const end = () => {
      if (pair.stale) return;
      pairs.delete(pair);
      client.destroy();
      pair.server?.destroy();
    };
    client.on("error", end);
    client.on("close", end);
    if (cut) {
      client.on("data", () => undefined); // swallowed
      return;
    }
    const upstream = net.connect(target.port, target.host);
    pair.server = upstream;
    upstream.on("error", end);
    upstream.on("close", end);
    client.on("data", (chunk: Buffer) => {
      if (cut || pair.stale) return;
      counted.up += chunk.length;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cut || pair.stale) return;
      counted.down += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => ({ ...counted }),
    cut() {
      cut = true;
      for (const pair of pairs) pair.stale = true;
    },
    restore() {
      cut = false;
      for (const pair of [...pairs]) if (pair.stale) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.server?.destroy();
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
