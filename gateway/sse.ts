import type { ServerResponse } from "node:http";
import { isGone, isHttp2, type NodeRequest, type NodeResponse, write } from "./rest/http.js";

/** One Server-Sent Event. `event` and `id` must be single-line. */
export interface SseEvent {
  id?: string;
  /** Omitted: a plain "message" event (EventSource `onmessage`). */
  event?: string;
  data: string;
}

/** The wire form of an event: every line of `data` gets its own `data:` field. */
export function formatEvent(event: SseEvent): string {
  let out = "";
  if (event.id !== undefined) out += `id: ${event.id.replace(/[\r\n]/g, "")}\n`;
  if (event.event !== undefined) out += `event: ${event.event.replace(/[\r\n]/g, "")}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/**
 * A text/event-stream response: headers that keep proxies from buffering it, a `retry` hint for
 * reconnecting clients, a comment every `keepAliveMs` so idle connections are not cut, and
 * backpressure on every write.
 */
export class SseStream {
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly req: NodeRequest,
    private readonly res: NodeResponse,
    private readonly signal: AbortSignal,
    private readonly options: { keepAliveMs?: number; retryMs?: number } = {},
  ) {}

  async open(): Promise<void> {
    const headers: Record<string, string> = {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-store",
      "x-accel-buffering": "no",
    };
    // Connection-specific headers are forbidden in HTTP/2.
    if (!isHttp2(this.req)) headers.connection = "keep-alive";
    (this.res as ServerResponse).writeHead(200, headers);
    await write(this.res, `retry: ${this.options.retryMs ?? 3_000}\n\n`, this.signal);
    this.#timer = setInterval(() => {
      try {
        if (!isGone(this.res)) (this.res as ServerResponse).write(": keep-alive\n\n");
      } catch {
        // The stream closed between the check and the write; close() follows.
      }
    }, this.options.keepAliveMs ?? 15_000);
    this.#timer.unref();
    this.res.once("close", () => clearInterval(this.#timer));
  }

  send(event: SseEvent): Promise<void> {
    return write(this.res, formatEvent(event), this.signal);
  }

  close(): void {
    clearInterval(this.#timer);
    try {
      if (!isGone(this.res)) this.res.end();
    } catch {
      // already closed by the client
    }
  }
}
