import type { ChannelName } from "./recipients.js";

/**
 * The built-in messages: one template per customer-visible order transition, each rendering an
 * e-mail (subject + body) and a short SMS from string variables. The saga's consumers fill the
 * variables from events; SendNotification lets a caller use a template by name with its own
 * `template_data`. Pure: no I/O.
 *
 * Every template needs `order_id`; `name` (greeting) and `total` (e.g. "19.99 EUR") are
 * optional everywhere, other variables as listed per template.
 */

export type TemplateData = Readonly<Record<string, string | undefined>>;

export interface RenderedMessage {
  /** Empty for SMS. */
  subject: string;
  body: string;
}

export class TemplateError extends Error {
  constructor(
    readonly kind: "unknown_template" | "missing_variable",
    message: string,
    /** The missing variable, for `missing_variable`. */
    readonly variable?: string,
  ) {
    super(message);
    this.name = "TemplateError";
  }
}

interface Vars {
  orderId: string;
  /** Short reference for subjects and SMS: the last 8 characters of the order id, upper case. */
  ref: string;
  get(name: string): string;
}

interface Template {
  /** The order status the message reports, if it reports one. */
  status?: string;
  required: readonly string[];
  optional: readonly string[];
  subject(v: Vars): string;
  /** Paragraphs of the e-mail between greeting and sign-off. */
  email(v: Vars): string[];
  sms(v: Vars): string;
}

const COMMON_OPTIONAL = ["name", "total"] as const;

function totalLine(v: Vars): string[] {
  return v.get("total") ? [`Total: ${v.get("total")}`] : [];
}

function smsTotal(v: Vars): string {
  return v.get("total") ? ` (total ${v.get("total")})` : "";
}

function reasonLine(v: Vars): string[] {
  return v.get("reason") ? [`Reason: ${v.get("reason")}`] : [];
}

const TEMPLATES = {
  order_created: {
    status: "PENDING",
    required: ["order_id"],
    optional: [],
    subject: (v) => `We received your order ${v.ref}`,
    email: (v) => [
      `we received your order ${v.orderId} and are checking stock and payment.`,
      ...totalLine(v),
      "We will let you know as soon as it is confirmed.",
    ],
    sms: (v) => `ordermesh: we received your order ${v.ref}${smsTotal(v)}.`,
  },
  order_confirmed: {
    status: "CONFIRMED",
    required: ["order_id"],
    optional: [],
    subject: (v) => `Your order ${v.ref} is confirmed`,
    email: (v) => [`your payment went through and order ${v.orderId} is confirmed.`, ...totalLine(v), "We will let you know when it ships."],
    sms: (v) => `ordermesh: order ${v.ref} is confirmed${smsTotal(v)}.`,
  },
  order_payment_failed: {
    status: "PAYMENT_FAILED",
    required: ["order_id"],
    optional: ["reason"],
    subject: (v) => `Payment for your order ${v.ref} failed`,
    email: (v) => [
      `we could not charge your payment method for order ${v.orderId}, so the order was not placed.`,
      ...reasonLine(v),
      ...totalLine(v),
      "You have not been charged.",
    ],
    sms: (v) => `ordermesh: payment for order ${v.ref} failed; the order was not placed.`,
  },
  order_cancelled: {
    status: "CANCELLED",
    required: ["order_id"],
    optional: ["reason", "refund"],
    subject: (v) => `Your order ${v.ref} was cancelled`,
    email: (v) => [
      `order ${v.orderId} was cancelled.`,
      ...reasonLine(v),
      ...(v.get("refund") === "true" ? [`The amount charged${v.get("total") ? ` (${v.get("total")})` : ""} will be refunded.`] : []),
    ],
    sms: (v) => `ordermesh: order ${v.ref} was cancelled.${v.get("refund") === "true" ? " Your payment will be refunded." : ""}`,
  },
  order_rejected: {
    status: "REJECTED",
    required: ["order_id"],
    optional: ["reason"],
    subject: (v) => `We could not accept your order ${v.ref}`,
    email: (v) => [
      `we are sorry: order ${v.orderId} could not be accepted because some items are not available.`,
      ...reasonLine(v),
      "You have not been charged.",
    ],
    sms: (v) => `ordermesh: order ${v.ref} could not be accepted (items unavailable). You have not been charged.`,
  },
  order_expired: {
    status: "EXPIRED",
    required: ["order_id"],
    optional: [],
    subject: (v) => `Your order ${v.ref} expired`,
    email: (v) => [`order ${v.orderId} expired because the payment did not complete in time; the items were released.`, "You have not been charged."],
    sms: (v) => `ordermesh: order ${v.ref} expired before payment completed.`,
  },
  order_shipped: {
    status: "SHIPPED",
    required: ["order_id"],
    optional: ["carrier", "tracking_number"],
    subject: (v) => `Your order ${v.ref} has shipped`,
    email: (v) => [
      `order ${v.orderId} is on its way${v.get("carrier") ? ` with ${v.get("carrier")}` : ""}.`,
      ...(v.get("tracking_number") ? [`Tracking number: ${v.get("tracking_number")}`] : []),
    ],
    sms: (v) =>
      `ordermesh: order ${v.ref} has shipped${v.get("carrier") ? ` with ${v.get("carrier")}` : ""}${v.get("tracking_number") ? `, tracking ${v.get("tracking_number")}` : ""}.`,
  },
  order_delivered: {
    status: "DELIVERED",
    required: ["order_id"],
    optional: [],
    subject: (v) => `Your order ${v.ref} was delivered`,
    email: (v) => [`order ${v.orderId} was delivered. Enjoy!`],
    sms: (v) => `ordermesh: order ${v.ref} was delivered.`,
  },
  delivery_failed: {
    status: "DELIVERY_FAILED",
    required: ["order_id"],
    optional: ["notes"],
    subject: (v) => `We could not deliver your order ${v.ref}`,
    email: (v) => [
      `the carrier could not deliver order ${v.orderId}.`,
      ...(v.get("notes") ? [`Carrier note: ${v.get("notes")}`] : []),
      "Our support team will contact you.",
    ],
    sms: (v) => `ordermesh: order ${v.ref} could not be delivered. We will contact you.`,
  },
  invoice_ready: {
    required: ["order_id"],
    optional: ["file_id"],
    subject: (v) => `Your invoice for order ${v.ref}`,
    email: (v) => [`the invoice for order ${v.orderId} is ready.`, ...(v.get("file_id") ? [`Invoice document: ${v.get("file_id")}`] : []), ...totalLine(v)],
    sms: (v) => `ordermesh: the invoice for order ${v.ref} is ready.`,
  },
} satisfies Record<string, Template>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(TEMPLATES, name);
}

/** The variables `name` needs and may use. */
export function templateVariables(name: TemplateName): { required: readonly string[]; optional: readonly string[] } {
  const template: Template = TEMPLATES[name];
  return { required: template.required, optional: [...COMMON_OPTIONAL, ...template.optional] };
}

/** The order status a template reports (e.g. CONFIRMED for order_confirmed), if any. */
export function templateStatus(name: TemplateName): string | undefined {
  const template: Template = TEMPLATES[name];
  return template.status;
}

/** One line, no control characters (a subject is a mail header), whitespace collapsed. */
function oneLine(value: string): string {
  return (
    value
      // eslint-disable-next-line no-control-regex -- stripping control characters is the point
      .replace(/[\u0000-\u001f\u007f]+/g, " ")
      .replace(/\s+/g, " ")
      .trim()
  );
}

/**
 * Renders template `name` for `channel` from `data`. Throws TemplateError for an unknown
 * template or a missing (absent or blank) required variable. Variable values are flattened
 * to one line each.
 */
export function renderTemplate(name: string, channel: ChannelName, data: TemplateData): RenderedMessage {
  if (!isTemplateName(name)) {
    throw new TemplateError("unknown_template", `unknown template "${name}"; known: ${TEMPLATE_NAMES.join(", ")}`);
  }
  const template: Template = TEMPLATES[name];
  for (const variable of template.required) {
    if (!data[variable]?.trim()) throw new TemplateError("missing_variable", `template ${name} needs the variable ${variable}`, variable);
  }
  const get = (variable: string) => oneLine(data[variable] ?? "");
  const orderId = get("order_id");
  const vars: Vars = { orderId, ref: `#${orderId.slice(-8).toUpperCase()}`, get };
  if (channel === "SMS") return { subject: "", body: template.sms(vars) };
  const greeting = get("name") ? `Hello ${get("name")},` : "Hello,";
  const status = template.status ? [`Order status: ${template.status}`, ""] : [];
  const body = [greeting, "", ...template.email(vars).flatMap((paragraph) => [paragraph, ""]), ...status, "-- ordermesh"].join("\n");
  return { subject: template.subject(vars), body };
}
