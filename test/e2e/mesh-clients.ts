import { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import { DeliveryService } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { FileService } from "../../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "../../gen/shop/notification/v1/notification_pb.js";
import { OrderService } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";
import { createClient } from "../../lib/grpc/index.js";
import type { Mesh } from "../../dev/mesh.js";

/** One gRPC client per service of a running mesh. */
export function meshClients(mesh: Mesh) {
  const options = (name: string) => ({ name, deadlineMs: 15_000, breaker: { volumeThreshold: 1_000 } });
  const clients = {
    order: createClient(OrderService, mesh.address("order"), options("order")),
    inventory: createClient(InventoryService, mesh.address("inventory"), options("inventory")),
    payment: createClient(PaymentService, mesh.address("payment"), options("payment")),
    notification: createClient(NotificationService, mesh.address("notification"), options("notification")),
    file: createClient(FileService, mesh.address("file"), options("file")),
    delivery: createClient(DeliveryService, mesh.address("delivery"), options("delivery")),
    analytics: createClient(AnalyticsService, mesh.address("analytics"), options("analytics")),
  };
  return {
    ...clients,
    close() {
      for (const client of Object.values(clients)) client.close();
    },
  };
}

export type MeshClients = ReturnType<typeof meshClients>;
