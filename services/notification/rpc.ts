import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MikroORM } from "@mikro-orm/postgresql";
import { Channel, type NotificationSchema, type NotificationService, NotificationStatus } from "../../gen/shop/notification/v1/notification_pb.js";
import { invalidArgument, notFound } from "../../lib/errors.js";
import type { ServiceImplementation } from "../../lib/grpc/index.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { requireId } from "../../lib/validate.js";
import type { Dispatcher } from "./dispatcher.js";
import { type ChannelName, normalizeRecipient } from "./domain/recipients.js";
import { renderTemplate, TemplateError } from "./domain/templates.js";
import { Notification, type NotificationRow } from "./entities.js";
import * as store from "./notification-store.js";

export interface NotificationRpcOptions {
  orm: MikroORM;
  dispatcher: Pick<Dispatcher, "deliver" | "leaseMs">;
}

export const MAX_SUBJECT = 200;
export const MAX_BODY: Record<ChannelName, number> = { EMAIL: 20_000, SMS: 1_600 };
const MAX_TEMPLATE_VARIABLES = 20;
const MAX_TEMPLATE_VALUE = 500;
const DEFAULT_SUBJECT = "A message from ordermesh";

/** Proto view of a notification_log row. */
export function toNotificationMessage(row: NotificationRow): MessageInitShape<typeof NotificationSchema> {
  return {
    id: row.id,
    orderId: row.orderId ?? "",
    customerId: row.customerId,
    channel: Channel[row.channel],
    recipient: row.recipient,
    subject: row.subject,
    body: row.body,
    status: NotificationStatus[row.status],
    attempts: row.attempts,
    lastError: row.lastError ?? "",
    eventId: row.eventId ?? "",
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    sentAt: row.sentAt ? timestampFromDate(row.sentAt) : undefined,
  };
}

function channelName(value: Channel): ChannelName {
  if (value === Channel.EMAIL) return "EMAIL";
  if (value === Channel.SMS) return "SMS";
  throw invalidArgument("channel", "must be CHANNEL_EMAIL or CHANNEL_SMS");
}

function hasControlCharacters(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- detecting control characters is the point
  return /[\u0000-\u001f\u007f]/.test(value);
}

/** Subject and body of a direct message: from a template, or as given. */
function content(
  channel: ChannelName,
  request: { subject: string; body: string; template: string; templateData: Record<string, string> },
  orderId: string | null,
): { subject: string; body: string; template: string | null } {
  if (request.template) {
    const entries = Object.entries(request.templateData);
    if (entries.length > MAX_TEMPLATE_VARIABLES) throw invalidArgument("template_data", `must have at most ${MAX_TEMPLATE_VARIABLES} entries`);
    for (const [key, value] of entries) {
      if (value.length > MAX_TEMPLATE_VALUE) throw invalidArgument(`template_data.${key}`, `must be at most ${MAX_TEMPLATE_VALUE} characters`);
    }
    const data: Record<string, string> = { ...(orderId ? { order_id: orderId } : {}), ...request.templateData };
    try {
      return { ...renderTemplate(request.template, channel, data), template: request.template };
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      if (error.kind === "unknown_template") throw invalidArgument("template", error.message);
      throw invalidArgument(`template_data.${error.variable}`, `is required by template ${request.template}`);
    }
  }
  const body = request.body.trim();
  if (body === "") throw invalidArgument("body", "is required when no template is given");
  if (body.length > MAX_BODY[channel]) throw invalidArgument("body", `must be at most ${MAX_BODY[channel]} characters for ${channel}`);
  if (channel === "SMS") return { subject: "", body, template: null };
  const subject = request.subject.trim();
  if (subject.length > MAX_SUBJECT) throw invalidArgument("subject", `must be at most ${MAX_SUBJECT} characters`);
  if (hasControlCharacters(subject)) throw invalidArgument("subject", "must be a single line without control characters");
  return { subject: subject || DEFAULT_SUBJECT, body, template: null };
}

/** gRPC handlers of NotificationService. */
export function notificationRpc({ orm, dispatcher }: NotificationRpcOptions): ServiceImplementation<typeof NotificationService> {
  return {
    /**
     * Logs the message and makes the first attempt before answering (as the API promises): the
     * row is inserted already claimed, sent through the dispatcher's breaker, and returned with
     * its outcome: SENT, PENDING with last_error (the dispatcher retries it), or FAILED.
     */
    async sendNotification(request) {
      const channel = channelName(request.channel);
      const recipient = normalizeRecipient(channel, request.recipient);
      if (!recipient) {
        throw invalidArgument("recipient", channel === "EMAIL" ? "must be an e-mail address" : "must be a phone number in E.164 format, e.g. +4930123456");
      }
      const orderId = request.orderId ? requireId("order_id", request.orderId) : null;
      const customerId = request.customerId ? requireId("customer_id", request.customerId) : "";
      const message = { ...content(channel, request, orderId), channel, recipient, orderId, customerId, eventId: null };
      const claimed = await store.insertClaimed(orm.em.fork(), message, dispatcher.leaseMs);
      await dispatcher.deliver(claimed);
      const row = await orm.em.fork().findOneOrFail(Notification, { id: claimed.id });
      return { notification: toNotificationMessage(row) };
    },

    async getNotification(request) {
      const notificationId = requireId("notification_id", request.notificationId);
      const row = await orm.em.fork().findOne(Notification, { id: notificationId });
      if (!row) throw notFound("notification", notificationId);
      return { notification: toNotificationMessage(row) };
    },

    async listNotifications(request) {
      const size = pageSize(request.pageSize);
      const before = decodePageToken(request.pageToken);
      // Newest first: UUIDv7 ids sort by creation, so the token is the last id of the page.
      const rows = await orm.em.fork().find(
        Notification,
        {
          ...(before ? { id: { $lt: before } } : {}),
          ...(request.orderId ? { orderId: requireId("order_id", request.orderId) } : {}),
          ...(request.customerId ? { customerId: requireId("customer_id", request.customerId) } : {}),
        },
        { orderBy: { id: "desc" }, limit: size + 1 },
      );
      const { page, nextPageToken } = nextPage(rows, size);
      return { notifications: page.map(toNotificationMessage), nextPageToken };
    },
  };
}
