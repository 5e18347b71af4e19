import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { create, createFileRegistry, toBinary, type DescService } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Client as Channel, credentials, Metadata, status as Code, type ServiceError as CallError } from "@grpc/grpc-js";
import { pino } from "pino";
import { GetProductRequestSchema, InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { createClient, startGrpcServer, toServiceDefinition, type GrpcServer } from "./index.js";
import { serializer } from "./service-definition.js";

/** A service with one method of each kind, built at runtime: no generated contract has bidi. */
const file = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "test/v1/echo.proto",
    package: "test.v1",
    syntax: "proto3",
    messageType: [{ name: "Echo", field: [{ name: "text", jsonName: "text", number: 1, type: Type.STRING, label: Label.OPTIONAL }] }],
    service: [
      {
        name: "EchoService",
        method: [
          { name: "Unary", inputType: ".test.v1.Echo", outputType: ".test.v1.Echo" },
          { name: "ServerStream", inputType: ".test.v1.Echo", outputType: ".test.v1.Echo", serverStreaming: true },
          { name: "ClientStream", inputType: ".test.v1.Echo", outputType: ".test.v1.Echo", clientStreaming: true },
          { name: "Chat", inputType: ".test.v1.Echo", outputType: ".test.v1.Echo", clientStreaming: true, serverStreaming: true },
        ],
      },
    ],
  }),
  () => undefined,
);
const EchoService = file.getService("test.v1.EchoService") as DescService;

describe("toServiceDefinition", () => {
  it("maps every method kind to its path and stream flags, keyed by localName", () => {
    const definition = toServiceDefinition(EchoService);
    expect(Object.keys(definition)).toEqual(["unary", "serverStream", "clientStream", "chat"]);
    expect(definition.unary).toMatchObject({ path: "/test.v1.EchoService/Unary", requestStream: false, responseStream: false });
    expect(definition.serverStream).toMatchObject({ requestStream: false, responseStream: true });
    expect(definition.clientStream).toMatchObject({ requestStream: true, responseStream: false });
    expect(definition.chat).toMatchObject({ path: "/test.v1.EchoService/Chat", requestStream: true, responseStream: true });
    expect(toServiceDefinition(InventoryService).getProduct.path).toBe("/shop.inventory.v1.InventoryService/GetProduct");
  });

  it("serializes plain init objects and messages alike", () => {
    const serialize = serializer(GetProductRequestSchema);
    const expected = toBinary(GetProductRequestSchema, create(GetProductRequestSchema, { productId: "p1" }));
    expect(new Uint8Array(serialize({ productId: "p1" }))).toEqual(expected);
    expect(new Uint8Array(serialize(create(GetProductRequestSchema, { productId: "p1" })))).toEqual(expected);
  });

  it("round-trips through the definition's serializers", () => {
    const { requestSerialize, requestDeserialize } = toServiceDefinition(InventoryService).getProduct;
    expect(requestDeserialize(requestSerialize({ productId: "p2" }))).toMatchObject({
      $typeName: "shop.inventory.v1.GetProductRequest",
      productId: "p2",
    });
  });
});

describe("bidi streaming", () => {
  let server: GrpcServer;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
      // A DescService built at runtime has untyped handlers.
      services: [
        {
          service: EchoService,
          implementation: {
            unary: async () => ({}),
            serverStream: async function* () {},
            clientStream: async () => ({}),
          },
        },
      ],
    });
  });

  afterAll(async () => {
    await server?.shutdown(1_000);
  });

  it("is answered with UNIMPLEMENTED and a clear message, and warned about at startup", async () => {
    expect(lines).toContainEqual(expect.objectContaining({ rpc: "test.v1.EchoService/Chat", msg: expect.stringContaining("bidi") }));
    const channel = new Channel(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const call = channel.makeBidiStreamRequest(
        "/test.v1.EchoService/Chat",
        (value: Buffer) => value,
        (value: Buffer) => value,
        new Metadata(),
      );
      const error = await new Promise<CallError>((resolve) => call.on("error", resolve));
      expect(error.code).toBe(Code.UNIMPLEMENTED);
      expect(error.details).toBe("/test.v1.EchoService/Chat: bidi streaming is not supported by this server");
    } finally {
      channel.close();
    }
  });

  it("has no method on the client", () => {
    const client = createClient(EchoService, "127.0.0.1:1", { name: "echo" });
    try {
      expect(Object.keys(client).sort()).toEqual(["breaker", "clientStream", "close", "serverStream", "unary"]);
    } finally {
      client.close();
    }
  });
});
