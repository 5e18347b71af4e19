// s3rver in a process of its own for the bench's stack: dev/stack.ts would run it inside the
// calling process, where serving the invoice uploads would compete with the load generator's
// event loop and inflate the latencies it measures.
//   node --import tsx bench/s3-process.ts <dir>   prints "S3_ENDPOINT <url>", stops on SIGTERM/SIGINT
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_BUCKET } from "../dev/infra.js";
import { startS3 } from "../dev/s3.js";

export interface S3Process {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts this file as a child process and waits for its endpoint. */
export async function startS3Process(dir: string): Promise<S3Process> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), dir], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line.startsWith("S3_ENDPOINT ")) resolve(line.slice("S3_ENDPOINT ".length).trim());
    });
    child.once("exit", (code) => reject(new Error(`s3rver process exited with code ${code} before it was ready`)));
  });
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s3 = await startS3({ dir: process.argv[2], buckets: [DEFAULT_BUCKET] });
  process.stdout.write(`S3_ENDPOINT ${s3.endpoint}\n`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      void s3.stop().finally(() => process.exit(0));
    });
  }
}
