import type { JsonObject } from "@bufbuild/protobuf";
import type { RouteOpenApi } from "./router.js";

/** OpenAPI fragments shared by routes whose answers are not protobuf JSON. */

/** A file streamed as an attachment (downloads, invoices). */
export const DOWNLOAD: RouteOpenApi = {
  content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
};

/** Server-Sent Events; each event's data is the JSON of `message` (a components schema name). */
export function eventStream(message: string): RouteOpenApi {
  return {
    content: {
      "text/event-stream": {
        schema: {
          type: "string",
          description: `Each event's data is a ${message} as JSON; \`event: end\` closes the stream, \`event: error\` carries an error body.`,
        },
      },
    },
  };
}

/** A JSON object schema from its properties (all required). */
export function objectSchema(properties: Record<string, JsonObject>, required = Object.keys(properties)): JsonObject {
  return { type: "object", properties, required, additionalProperties: false };
}
