import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");

/** Asks a server's grpc.health.v1 Check for the whole server; true only for SERVING. */
export async function isServing(address: string, timeoutMs = 1000): Promise<boolean> {
  const client = new HealthClient(address, credentials.createInsecure());
  try {
    return await new Promise<boolean>((resolve) => {
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (value: { service: string }) => healthService.Check.requestSerialize(value),
        (bytes: Buffer) => healthService.Check.responseDeserialize(bytes) as { status: string | number },
        { service: "" },
        { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null, response?: { status: string | number }) => {
          resolve(!error && (response?.status === "SERVING" || response?.status === 1));
        },
      );
    });
  } finally {
    client.close();
  }
}
