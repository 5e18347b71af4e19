/**
 * The JetStream event bus (architecture section 5): streams, transactional outbox and relay,
 * idempotent retrying consumers, and the dead-letter admin API.
 */
export { connectBus, type ConnectBusOptions, type EventBus, natsServers } from "./bus.js";
export {
  type BaseConsumerOptions,
  type BatchConsumerOptions,
  type BatchEvent,
  type BatchHandler,
  startBatchConsumer,
  startConsumer,
  type ConsumerOptions,
  type EventConsumer,
  type EventContext,
  type EventHandler,
  type StartSequence,
} from "./consumer.js";
export {
  copyToDeadLetters,
  discardDeadLetter,
  getDeadLetter,
  listDeadLetters,
  replayDeadLetter,
  type DeadLetter,
  type DeadLetterDetail,
  type DeadLetterFailure,
  type DeadLetterPage,
} from "./dead-letters.js";
export { isPermanent, PermanentError } from "./errors.js";
export { requireOrderId } from "./event-fields.js";
export * from "./headers.js";
export { EventsMigration, eventsMigration } from "./migration.js";
export { busNames, DEFAULT_BUS_NAMES, type EventBusNames } from "./names.js";
export { enqueue, enqueueRecords, type EnqueueOptions, OUTBOX_COLUMNS, outboxRecord, type OutboxRecord, withDeferredOutbox } from "./outbox.js";
export { kickAfterCommit, kickRelays, startRelay, type OutboxEvent, type Relay, type RelayOptions } from "./relay.js";
export { afterRetiredConsumers, retireConsumers, type RetireConsumersOptions } from "./retire-consumers.js";
export { Sleeper } from "./sleeper.js";
export { ensureStreams, type StreamOptions } from "./streams.js";
export { deadLetterSubject, eventRoute, eventSubject, originalSubject, type EventRoute, type EventTypeDesc } from "./subjects.js";
