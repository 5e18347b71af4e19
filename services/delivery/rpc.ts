import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { type DeliveryService, DeliveryStatus, type DeliverySchema } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../../lib/errors.js";
import type { ServiceImplementation } from "../../lib/grpc/index.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { inOrderTrace } from "../../lib/telemetry/index.js";
import { optionalText, requireId } from "../../lib/validate.js";
import * as store from "./delivery-store.js";
import type { DeliveryStatus as Status } from "./domain/delivery-status.js";
import { Delivery, type DeliveryLogRow, type DeliveryRow } from "./entities.js";
import { publishCreated, publishStatusChanged, toProtoStatus } from "./events.js";
import { requireAddress } from "./validate.js";

export interface DeliveryRpcOptions {
  orm: MikroORM;
}

function statusName(value: DeliveryStatus, field: string): Status {
  const name = DeliveryStatus[value] as string | undefined;
  if (value === DeliveryStatus.UNSPECIFIED || name === undefined) {
    throw invalidArgument(field, "must be PENDING, IN_TRANSIT, DELIVERED, FAILED or CANCELLED");
  }
  return name as Status;
}

/** Proto view of a delivery row and its log. */
export function toDeliveryMessage(delivery: DeliveryRow, logs: DeliveryLogRow[]): MessageInitShape<typeof DeliverySchema> {
  const address = delivery.address;
  return {
    id: delivery.id,
    orderId: delivery.orderId,
    customerId: delivery.customerId,
    // The tombstone of an order cancelled before confirmation has no address.
    address: address.line1 ? address : undefined,
    status: toProtoStatus(delivery.status),
    carrier: delivery.carrier,
    trackingNumber: delivery.trackingNumber,
    logs: logs.map((log) => ({ status: toProtoStatus(log.status), notes: log.notes, at: timestampFromDate(log.at) })),
    createdAt: timestampFromDate(delivery.createdAt),
    updatedAt: timestampFromDate(delivery.updatedAt),
  };
}

/** gRPC handlers of DeliveryService: validation and mapping around delivery-store. */
export function deliveryRpc({ orm }: DeliveryRpcOptions): ServiceImplementation<typeof DeliveryService> {
  async function withLogs(em: EntityManager, delivery: DeliveryRow) {
    const logs = await store.logsOf(em, [delivery.id]);
    return toDeliveryMessage(delivery, logs.get(delivery.id) ?? []);
  }

  async function inTransaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return orm.em.fork().transactional(work);
  }

  return {
    async createDelivery(request) {
      const order = {
        orderId: requireId("order_id", request.orderId),
        customerId: requireId("customer_id", request.customerId),
        address: requireAddress("address", request.address),
      };
      const delivery = await inTransaction(async (em) => {
        const outcome = await store.createDelivery(em, order, "delivery created by request");
        if (outcome.kind === "existing") {
          throw alreadyExists(`order ${order.orderId} already has a delivery (${outcome.delivery.id}, ${outcome.delivery.status})`);
        }
        if (outcome.kind === "queued") throw new Error("CreateDelivery's transaction writes at once: it needs the row back");
        await publishCreated(em, outcome.delivery);
        return withLogs(em, outcome.delivery);
      });
      return { delivery };
    },

    async getDelivery(request) {
      const deliveryId = requireId("delivery_id", request.deliveryId);
      const em = orm.em.fork();
      const delivery = await em.findOne(Delivery, { id: deliveryId });
      if (!delivery) throw notFound("delivery", deliveryId);
      return { delivery: await withLogs(em, delivery) };
    },

    async getDeliveryByOrder(request) {
      const orderId = requireId("order_id", request.orderId);
      const em = orm.em.fork();
      const delivery = await em.findOne(Delivery, { orderId });
      if (!delivery) throw notFound("delivery for order", orderId);
      return { delivery: await withLogs(em, delivery) };
    },

    async updateDeliveryStatus(request) {
      const deliveryId = requireId("delivery_id", request.deliveryId);
      const to = statusName(request.status, "status");
      const notes = optionalText("notes", request.notes, 1000);
      const change = {
        notes,
        carrier: request.carrier === undefined ? undefined : optionalText("carrier", request.carrier, 100),
        trackingNumber: request.trackingNumber === undefined ? undefined : optionalText("tracking_number", request.trackingNumber, 100),
      };
      const delivery = await inTransaction(async (em) => {
        const outcome = await store.updateStatus(em, deliveryId, to, change);
        switch (outcome.kind) {
          case "missing":
            throw notFound("delivery", deliveryId);
          case "refused":
            throw failedPrecondition(outcome.why);
          case "changed": {
            // The request has its own trace; the saga it moves on stays in the order's one.
            const { delivery: changed, from } = outcome;
            const work = { name: `delivery ${changed.status}`, orderId: changed.orderId, traceParent: changed.traceParent };
            await inOrderTrace(work, () => publishStatusChanged(em, changed, from, notes));
            break;
          }
          case "unchanged":
            break;
        }
        return withLogs(em, outcome.delivery);
      });
      return { delivery };
    },

    async listDeliveries(request) {
      const size = pageSize(request.pageSize);
      const before = decodePageToken(request.pageToken);
      const em = orm.em.fork();
      // Newest first: UUIDv7 ids sort by creation, so the token is the last id of the page.
      const rows = await em.find(
        Delivery,
        {
          ...(before ? { id: { $lt: before } } : {}),
          ...(request.orderId ? { orderId: requireId("order_id", request.orderId) } : {}),
          ...(request.customerId ? { customerId: requireId("customer_id", request.customerId) } : {}),
          ...(request.status ? { status: statusName(request.status, "status") } : {}),
        },
        { orderBy: { id: "desc" }, limit: size + 1 },
      );
      const { page, nextPageToken } = nextPage(rows, size);
      const logs = await store.logsOf(
        em,
        page.map((d) => d.id),
      );
      return { deliveries: page.map((d) => toDeliveryMessage(d, logs.get(d.id) ?? [])), nextPageToken };
    },
  };
}
