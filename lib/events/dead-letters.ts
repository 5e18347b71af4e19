import { fromBinary, type JsonValue, type Registry, toJson } from "@bufbuild/protobuf";
import type { JetStreamClient, JetStreamManager, JsMsg, MsgRequest, PubAck, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { errorMessage } from "./errors.js";
import {
  DLQ_CONSUMER_HEADER,
  DLQ_DELIVERY_COUNT_HEADER,
  DLQ_ERROR_HEADER,
  DLQ_FAILED_AT_HEADER,
  DLQ_ORIGINAL_SUBJECT_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  headerRecord,
  headerValue,
  isTransportHeader,
} from "./headers.js";
import type { EventBusNames } from "./names.js";
import { deadLetterSubject, originalSubject } from "./subjects.js";

/** Why and where a message failed, as recorded by {@link copyToDeadLetters}. */
export interface DeadLetterFailure {
  consumer: string;
  error: unknown;
  deliveryCount: number;
  /** The event id, when the original carried it only as Nats-Msg-Id. */
  eventId?: string;
}

/**
 * Copies a message that cannot be handled to the dead-letter stream: same payload and headers,
 * plus `dlq-error`, `dlq-consumer`, `dlq-delivery-count`, `dlq-original-subject` and
 * `dlq-failed-at`. Resolves once JetStream has stored it; only then may the original be
 * terminated. The Nats-Msg-Id (consumer + stream sequence) makes a repeated copy of the same
 * failure, e.g. after a crash between copy and term, a no-op.
 */
export async function copyToDeadLetters(js: JetStreamClient, names: EventBusNames, msg: JsMsg, failure: DeadLetterFailure): Promise<PubAck> {
  const h = copyHeaders(msg.headers, (key) => !isTransportHeader(key));
  if (failure.eventId && !h.has(EVENT_ID_HEADER)) h.set(EVENT_ID_HEADER, failure.eventId);
  h.set(DLQ_ERROR_HEADER, headerValue(errorMessage(failure.error), 1_000));
  h.set(DLQ_CONSUMER_HEADER, failure.consumer);
  h.set(DLQ_DELIVERY_COUNT_HEADER, String(failure.deliveryCount));
  h.set(DLQ_ORIGINAL_SUBJECT_HEADER, msg.subject);
  h.set(DLQ_FAILED_AT_HEADER, new Date().toISOString());
  return js.publish(deadLetterSubject(names, msg.subject), msg.data, {
    headers: h,
    msgID: `dlq:${failure.consumer}:${msg.seq}`,
    expect: { streamName: names.dlqStream },
  });
}

/** A dead letter as listed by the admin API. */
export interface DeadLetter {
  /** Sequence in the dead-letter stream: the handle for get, replay and discard. */
  seq: number;
  subject: string;
  originalSubject: string;
  eventId: string;
  eventType: string;
  error: string;
  consumer: string;
  deliveryCount: number;
  /** ISO timestamp. */
  failedAt: string;
}

export interface DeadLetterPage {
  entries: DeadLetter[];
  /** Pass as `startSeq` for the next page; absent on the last page. */
  nextSeq?: number;
}

/** A dead letter with its headers and payload. */
export interface DeadLetterDetail extends DeadLetter {
  headers: Record<string, string>;
  payload: {
    base64: string;
    /** Protobuf JSON, when the event type is in the registry passed to {@link getDeadLetter}. */
    json?: JsonValue;
    /** Why `json` is missing although the type is known. */
    decodeError?: string;
  };
}

/**
 * Lists dead letters in stream order from `startSeq` (default: the oldest), at most `limit`
 * (default 50, max 500).
 */
export async function listDeadLetters(
  jsm: JetStreamManager,
  names: EventBusNames,
  { limit = 50, startSeq = 1 }: { limit?: number; startSeq?: number } = {},
): Promise<DeadLetterPage> {
  const max = Math.min(Math.max(1, Math.floor(limit)), 500);
  const entries: DeadLetter[] = [];
  let cursor = Math.max(1, Math.floor(startSeq));
  while (entries.length < max) {
    const stored = await nextDeadLetter(jsm, names, cursor);
    if (!stored) return { entries };
    entries.push(describe(names, stored));
    cursor = stored.seq + 1;
  }
  // One look ahead, so the last page has no nextSeq.
  return (await nextDeadLetter(jsm, names, cursor)) ? { entries, nextSeq: cursor } : { entries };
}

/** One dead letter with headers and payload (as protobuf JSON when `registry` knows its type). */
export async function getDeadLetter(
  jsm: JetStreamManager,
  names: EventBusNames,
  seq: number,
  { registry }: { registry?: Registry } = {},
): Promise<DeadLetterDetail | undefined> {
  const stored = await jsm.streams.getMessage(names.dlqStream, { seq });
  if (!stored) return undefined;
  const entry = describe(names, stored);
  const payload: DeadLetterDetail["payload"] = { base64: Buffer.from(stored.data).toString("base64") };
  const desc = registry?.getMessage(entry.eventType);
  if (desc) {
    try {
      payload.json = toJson(desc, fromBinary(desc, stored.data), { registry });
    } catch (error) {
      payload.decodeError = errorMessage(error);
    }
  }
  return { ...entry, headers: headerRecord(stored.header), payload };
}

/**
 * Publishes a dead letter again on its original subject and removes it from the DLQ. It gets a
 * new Nats-Msg-Id (`<eventId>:replay:<seq>`, so the duplicate window does not swallow it) but
 * keeps its `event-id`, so consumers that did process it skip it and only the one that failed
 * handles it again. Returns undefined when there is no such dead letter.
 */
export async function replayDeadLetter(
  jsm: JetStreamManager,
  names: EventBusNames,
  seq: number,
): Promise<{ subject: string; eventId: string; streamSeq: number } | undefined> {
  const stored = await jsm.streams.getMessage(names.dlqStream, { seq });
  if (!stored) return undefined;
  const entry = describe(names, stored);
  if (!entry.originalSubject.startsWith(`${names.subjectRoot}.`)) {
    throw new Error(`dead letter ${seq} names original subject "${entry.originalSubject}" outside ${names.subjectRoot}.>`);
  }
  const h = copyHeaders(stored.header, (key) => !isTransportHeader(key) && !key.startsWith("dlq-"));
  const ack = await jsm.jetstream().publish(entry.originalSubject, stored.data, {
    headers: h,
    msgID: `${entry.eventId}:replay:${seq}`,
    expect: { streamName: names.stream },
  });
  // Deleted only after the replay is stored: a failure in between leaves it listed, and
  // replaying it again is harmless (same msgID within the window, same event-id after it).
  await jsm.streams.deleteMessage(names.dlqStream, seq);
  return { subject: entry.originalSubject, eventId: entry.eventId, streamSeq: ack.seq };
}

/** Deletes a dead letter for good. Returns false when there is no such dead letter. */
export async function discardDeadLetter(jsm: JetStreamManager, names: EventBusNames, seq: number): Promise<boolean> {
  const stored = await jsm.streams.getMessage(names.dlqStream, { seq });
  if (!stored) return false;
  return jsm.streams.deleteMessage(names.dlqStream, seq);
}

function nextDeadLetter(jsm: JetStreamManager, names: EventBusNames, seq: number): Promise<StoredMsg | null> {
  // STREAM.MSG.GET answers "first message at or after seq on this subject" with next_by_subj
  // (nats-server >= 2.9, checked against 2.9.10), skipping deleted sequences; the client's
  // MsgRequest type only lists seq and last_by_subj.
  const query = { seq, next_by_subj: `${names.dlqSubjectRoot}.>` } as unknown as MsgRequest;
  return jsm.streams.getMessage(names.dlqStream, query);
}

function describe(names: EventBusNames, stored: StoredMsg): DeadLetter {
  const h = headerRecord(stored.header);
  return {
    seq: stored.seq,
    subject: stored.subject,
    originalSubject: h[DLQ_ORIGINAL_SUBJECT_HEADER] ?? originalSubject(names, stored.subject),
    eventId: h[EVENT_ID_HEADER] ?? "",
    eventType: h[EVENT_TYPE_HEADER] ?? "",
    error: h[DLQ_ERROR_HEADER] ?? "",
    consumer: h[DLQ_CONSUMER_HEADER] ?? "",
    deliveryCount: Number(h[DLQ_DELIVERY_COUNT_HEADER] ?? 0),
    failedAt: h[DLQ_FAILED_AT_HEADER] ?? stored.time.toISOString(),
  };
}

function copyHeaders(from: MsgHdrs | undefined, keep: (key: string) => boolean): MsgHdrs {
  const h = natsHeaders();
  if (!from) return h;
  for (const [key, values] of from) {
    if (!keep(key)) continue;
    for (const value of values) h.append(key, value);
  }
  return h;
}
