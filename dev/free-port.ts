import { createServer } from "node:net";

// Below Linux's ephemeral range (32768-60999), from which every outgoing connection takes its
// source port: a port picked there can be taken by a client socket before our child binds it.
const FIRST = 20_000;
const LAST = 32_000;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port that is free on 127.0.0.1 right now, for a child process that cannot be told to
 * bind port 0. Never the same port twice in one process; another process can still race for
 * it, so launchers retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST + Math.floor(Math.random() * (LAST - FIRST));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${FIRST} and ${LAST}`);
}
