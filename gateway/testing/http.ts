/** Test-only helpers for talking to a gateway: requests with tokens, SSE reading. */
import { signDevToken } from "../auth.js";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export function rest(baseUrl: string) {
  return async function call(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; body?: string | Uint8Array; contentType?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Uint8Array | undefined = options.body;
    if (options.json !== undefined) body = JSON.stringify(options.json);
    if (body !== undefined && options.contentType !== null) headers["content-type"] = options.contentType ?? "application/json";
    // fetch labels string bodies text/plain by itself; bytes go without a Content-Type.
    if (typeof body === "string" && options.contentType === null) body = new TextEncoder().encode(body);
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
}

export function tokens(secret: string) {
  return {
    customer: (id: string) => signDevToken({ sub: id, secret }),
    admin: () => signDevToken({ sub: "admin-1", admin: true, secret }),
  };
}

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Reads Server-Sent Events from `response` until `until` says stop (or the stream ends), then
 * cancels the body. Returns the events read.
 */
export async function readEvents(response: Response, until: (event: SseMessage) => boolean): Promise<SseMessage[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseMessage[] = [];
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buffer += decoder.decode(value, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event: SseMessage = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":") || line === "") continue;
          const [field, ...rest] = line.split(":");
          const value = rest.join(":").replace(/^ /, "");
          if (field === "data") data.push(value);
          else if (field === "event") event.event = value;
          else if (field === "id") event.id = value;
        }
        if (data.length === 0) continue;
        event.data = data.join("\n");
        events.push(event);
        if (until(event)) return events;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
