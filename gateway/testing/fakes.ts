/**
 * Test-only: small in-process stand-ins for the order, file and payment services (lib/grpc
 * servers), so gateway tests can run without infrastructure and control what upstreams do
 * (hold a call, hang, script a WatchOrder stream). The real services are exercised by
 * gateway.int.test.ts.
 */
import { createHash } from "node:crypto";
import { create, type DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type FileInfo, FileInfoSchema, FileKind, FileService } from "../../gen/shop/file/v1/file_pb.js";
import { type Customer, CustomerSchema, type Order, OrderSchema, OrderService, OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";
import { Code, invalidArgument, notFound, ServiceError } from "../../lib/errors.js";
import { type GrpcServer, type ServiceImplementation, startGrpcServer } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { Logger } from "../../lib/log.js";
import { FINAL_STATUSES } from "../rest/orders.js";

function unimplemented(name: string) {
  return () => {
    throw new ServiceError(Code.UNIMPLEMENTED, `${name} is not faked`);
  };
}

/** Fills every method the fake does not implement with an UNIMPLEMENTED thrower. */
function complete<S extends DescService>(service: S, partial: Record<string, unknown>): ServiceImplementation<S> {
  const impl: Record<string, unknown> = { ...partial };
  for (const method of service.methods) impl[method.localName] ??= unimplemented(method.name);
  return impl as ServiceImplementation<S>;
}

export class FakeOrders {
  readonly orders = new Map<string, Order>();
  readonly customers = new Map<string, Customer>();
  readonly #watchers = new Map<string, Set<() => void>>();
  /** Calls to GetOrder for these ids wait until `releaseHeld()`. */
  readonly held = new Set<string>();
  #release: (() => void)[] = [];
  createCalls = 0;

  customer(id = uuidv7()): string {
    this.customers.set(id, create(CustomerSchema, { id, email: `${id}@example.com`, name: "Test" }));
    return id;
  }

  order(customerId: string, status = OrderStatus.PENDING): Order {
    const now = timestampFromDate(new Date());
    const order = create(OrderSchema, {
      id: uuidv7(),
      customerId,
      status,
      items: [{ productId: uuidv7(), quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 1999n }, productName: "Widget" }],
      total: { currencyCode: "USD", amountMinor: 1999n },
      createdAt: now,
      updatedAt: now,
      history: [{ fromStatus: OrderStatus.UNSPECIFIED, toStatus: status, changedAt: now }],
    });
    this.orders.set(order.id, order);
    return order;
  }

  /** Moves an order on, as the saga would; WatchOrder streams see it. */
  transition(orderId: string, to: OrderStatus, reason = ""): void {
    const order = this.orders.get(orderId)!;
    order.history.push({
      $typeName: "shop.order.v1.OrderStatusChange",
      fromStatus: order.status,
      toStatus: to,
      reason,
      eventId: "",
      changedAt: timestampFromDate(new Date()),
    });
    order.status = to;
    for (const wake of this.#watchers.get(orderId) ?? []) wake();
  }

  releaseHeld(): void {
    for (const release of this.#release.splice(0)) release();
  }

  get heldCalls(): number {
    return this.#release.length;
  }

  implementation(): ServiceImplementation<typeof OrderService> {
    const find = (id: string) => {
      const order = this.orders.get(id);
      if (!order) throw notFound("order", id);
      return order;
    };
    return complete(OrderService, {
      createOrder: async (request: { customerId: string; items: { productId: string; quantity: number }[]; idempotencyKey: string }) => {
        this.createCalls++;
        if (!this.customers.has(request.customerId)) throw notFound("customer", request.customerId);
        if (request.items.length === 0) throw invalidArgument("items", "must not be empty");
        request.items.forEach((item, i) => {
          if (item.quantity < 1 || item.quantity > 1000)
            throw invalidArgument(`items[${i}].quantity`, `must be an integer from 1 to 1000, got ${item.quantity}`);
        });
        const order = this.order(request.customerId);
        return { order };
      },
      getOrder: async (request: { orderId: string }) => {
        if (this.held.has(request.orderId)) await new Promise<void>((resolve) => this.#release.push(resolve));
        return { order: find(request.orderId) };
      },
      listOrders: async (request: { customerId: string }) => ({
        orders: [...this.orders.values()].filter((o) => request.customerId === "" || o.customerId === request.customerId),
      }),
      cancelOrder: async (request: { orderId: string }) => {
        find(request.orderId);
        this.transition(request.orderId, OrderStatus.CANCELLED, "cancelled by request");
        return { order: find(request.orderId) };
      },
      watchOrder: (request: { orderId: string }, ctx: { signal: AbortSignal }) => this.#watch(find(request.orderId), ctx.signal),
      createCustomer: async (request: { email: string; name: string; customerId: string }) => {
        if (request.customerId && this.customers.has(request.customerId))
          throw new ServiceError(Code.ALREADY_EXISTS, `customer ${request.customerId} is already registered`);
        const id = this.customer(request.customerId || undefined);
        const customer = { ...this.customers.get(id)!, email: request.email, name: request.name };
        this.customers.set(id, customer);
        return { customer };
      },
      updateCustomer: async (request: { customerId: string; name?: string }) => {
        const customer = this.customers.get(request.customerId);
        if (!customer) throw notFound("customer", request.customerId);
        if (request.name !== undefined) customer.name = request.name;
        return { customer };
      },
      listCustomers: async () => ({ customers: [...this.customers.values()] }),
      updateOrderStatus: async (request: { orderId: string; status: OrderStatus }) => {
        find(request.orderId);
        this.transition(request.orderId, request.status, "set by hand");
        return { order: find(request.orderId) };
      },
      cancelOrders: async (request: { orderIds: string[]; customerId: string }) => ({
        results: request.orderIds.map((orderId) => {
          const order = this.orders.get(orderId);
          if (!order || (request.customerId !== "" && order.customerId !== request.customerId)) {
            return { orderId, result: { case: "error", value: { code: Code.NOT_FOUND, message: `order ${orderId} not found` } } };
          }
          this.transition(orderId, OrderStatus.CANCELLED, "cancelled in bulk");
          return { orderId, result: { case: "order", value: order } };
        }),
      }),
      getCustomer: async (request: { customerId: string }) => {
        const customer = this.customers.get(request.customerId);
        if (!customer) throw notFound("customer", request.customerId);
        return { customer };
      },
    });
  }

  async *#watch(order: Order, signal: AbortSignal) {
    let sent = order.history.length;
    yield { order: structuredClone(order) };
    while (!signal.aborted && (sent < order.history.length || !FINAL_STATUSES.has(order.status))) {
      if (order.history.length === sent) {
        await new Promise<void>((resolve) => {
          const set = this.#watchers.get(order.id) ?? new Set();
          this.#watchers.set(order.id, set);
          const wake = () => {
            set.delete(wake);
            resolve();
          };
          set.add(wake);
          signal.addEventListener("abort", wake, { once: true });
        });
        continue;
      }
      const change = order.history[sent++];
      // The order as it was right after this change, as the real service sends it.
      const snapshot = structuredClone(order);
      snapshot.status = change.toStatus;
      snapshot.history = snapshot.history.slice(0, sent);
      yield { order: snapshot, change };
    }
  }
}

export class FakeFiles {
  readonly files = new Map<string, { info: FileInfo; content: Buffer }>();
  readonly invoices = new Map<string, string>();

  invoice(orderId: string, customerId: string): FileInfo {
    const content = Buffer.from("%PDF-1.4\n% fake invoice\n%%EOF\n");
    const info = create(FileInfoSchema, {
      id: uuidv7(),
      fileName: `invoice-${orderId}.pdf`,
      contentType: "application/pdf",
      sizeBytes: BigInt(content.length),
      sha256: createHash("sha256").update(content).digest("hex"),
      orderId,
      customerId,
      kind: FileKind.INVOICE,
    });
    this.files.set(info.id, { info, content });
    this.invoices.set(orderId, info.id);
    return info;
  }

  implementation(): ServiceImplementation<typeof FileService> {
    const find = (id: string) => {
      const file = this.files.get(id);
      if (!file) throw notFound("file", id);
      return file;
    };
    return complete(FileService, {
      upload: async (requests: AsyncIterable<{ data: { case: string; value: unknown } }>) => {
        let info: FileInfo | undefined;
        const parts: Buffer[] = [];
        for await (const request of requests) {
          if (request.data.case === "metadata") {
            const m = request.data.value as { fileName: string; contentType: string; orderId: string; customerId: string };
            info = create(FileInfoSchema, {
              id: uuidv7(),
              fileName: m.fileName,
              contentType: m.contentType,
              orderId: m.orderId,
              customerId: m.customerId,
              kind: FileKind.UPLOAD,
            });
          } else if (request.data.case === "chunk") {
            parts.push(Buffer.from(request.data.value as Uint8Array));
          }
        }
        if (!info) throw invalidArgument("metadata", "is required");
        const content = Buffer.concat(parts);
        if (content.length === 0) throw invalidArgument("chunk", "empty content");
        info.sizeBytes = BigInt(content.length);
        info.sha256 = createHash("sha256").update(content).digest("hex");
        this.files.set(info.id, { info, content });
        return { file: info };
      },
      download: async function* (request: { fileId: string }) {
        const file = find(request.fileId);
        yield { data: { case: "info", value: file.info } };
        for (let offset = 0; offset < file.content.length; offset += 7) {
          yield { data: { case: "chunk", value: file.content.subarray(offset, offset + 7) } };
        }
      },
      getFile: async (request: { fileId: string }) => ({ file: find(request.fileId).info }),
      getInvoice: async (request: { orderId: string }) => {
        const id = this.invoices.get(request.orderId);
        if (!id) throw notFound("invoice of order", request.orderId);
        return { file: find(id).info };
      },
    });
  }
}

/** A payment service whose GetPayment never answers (for deadline tests). */
export function hangingPayments(): ServiceImplementation<typeof PaymentService> {
  return complete(PaymentService, {
    getPayment: (_request: unknown, ctx: { signal: AbortSignal }) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new ServiceError(Code.CANCELLED, "gone")))),
  });
}

export interface FakeUpstreams {
  orders: FakeOrders;
  files: FakeFiles;
  /** host:port of the fake order + file + payment server. */
  address: string;
  stop(): Promise<void>;
}

export async function startFakeUpstreams(logger: Logger): Promise<FakeUpstreams> {
  const orders = new FakeOrders();
  const files = new FakeFiles();
  const server: GrpcServer = await startGrpcServer({
    host: "127.0.0.1",
    port: 0,
    logger,
    services: [
      { service: OrderService, implementation: orders.implementation() },
      { service: FileService, implementation: files.implementation() },
      { service: PaymentService, implementation: hangingPayments() },
    ],
  });
  server.health.setServing();
  return { orders, files, address: `127.0.0.1:${server.port}`, stop: () => server.shutdown(100) };
}
