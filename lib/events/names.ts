/**
 * Names of the JetStream streams and subject roots one event bus uses. Production uses
 * {@link DEFAULT_BUS_NAMES}; tests give every suite its own namespace with {@link busNames} so
 * suites run in parallel against one nats-server without seeing each other's events.
 */
export interface EventBusNames {
  /** Stream holding every domain event (SHOP_EVENTS). */
  readonly stream: string;
  /** Stream holding dead letters (SHOP_DLQ). */
  readonly dlqStream: string;
  /** Subject root of domain events: events live under `<subjectRoot>.<aggregate>.<event>`. */
  readonly subjectRoot: string;
  /** Subject root of dead letters: `<dlqSubjectRoot>.<aggregate>.<event>`. */
  readonly dlqSubjectRoot: string;
}

/** The names of architecture section 5: SHOP_EVENTS on `shop.>`, SHOP_DLQ on `dlq.shop.>`. */
export const DEFAULT_BUS_NAMES: EventBusNames = Object.freeze({
  stream: "SHOP_EVENTS",
  dlqStream: "SHOP_DLQ",
  subjectRoot: "shop",
  dlqSubjectRoot: "dlq.shop",
});

// One token that is valid both in a stream name (no dots, spaces, wildcards) and in a subject.
const PREFIX = /^[A-Za-z0-9_-]+$/;

/**
 * The production names, or with `prefix` a private namespace: `busNames("t1a2")` gives streams
 * `t1a2_SHOP_EVENTS` / `t1a2_SHOP_DLQ` on `t1a2.shop.>` / `t1a2.dlq.shop.>`. Namespaces never
 * overlap each other or the production subjects, since their first subject token differs.
 */
export function busNames(prefix?: string): EventBusNames {
  if (prefix === undefined || prefix === "") return DEFAULT_BUS_NAMES;
  if (!PREFIX.test(prefix)) throw new Error(`event bus prefix "${prefix}" must match ${PREFIX}`);
  const base = DEFAULT_BUS_NAMES;
  return Object.freeze({
    stream: `${prefix}_${base.stream}`,
    dlqStream: `${prefix}_${base.dlqStream}`,
    subjectRoot: `${prefix}.${base.subjectRoot}`,
    dlqSubjectRoot: `${prefix}.${base.dlqSubjectRoot}`,
  });
}
