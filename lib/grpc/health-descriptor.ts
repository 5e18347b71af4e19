import { create, toBinary } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * grpc/health/v1/health.proto as a serialized FileDescriptorProto, for server reflection.
 *
 * Written out because the copy grpc-health-check holds comes from protobuf.js, which uses
 * relative type names and a non-standard map entry name; reflection clients such as buf curl
 * reject that file. This mirrors the upstream file, including List, which grpc-health-check serves.
 */
export function healthFileDescriptor(): Buffer {
  const field = (name: string, number: number, type: Type, typeName?: string, label = Label.OPTIONAL) => ({
    name,
    number,
    type,
    typeName,
    label,
    jsonName: name,
  });
  const file = create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthCheckRequest", field: [field("service", 1, Type.STRING)] },
      {
        name: "HealthCheckResponse",
        field: [field("status", 1, Type.ENUM, ".grpc.health.v1.HealthCheckResponse.ServingStatus")],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [field("statuses", 1, Type.MESSAGE, ".grpc.health.v1.HealthListResponse.StatusesEntry", Label.REPEATED)],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [field("key", 1, Type.STRING), field("value", 2, Type.MESSAGE, ".grpc.health.v1.HealthCheckResponse")],
            options: { mapEntry: true },
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          {
            name: "Check",
            inputType: ".grpc.health.v1.HealthCheckRequest",
            outputType: ".grpc.health.v1.HealthCheckResponse",
          },
          {
            name: "List",
            inputType: ".grpc.health.v1.HealthListRequest",
            outputType: ".grpc.health.v1.HealthListResponse",
          },
          {
            name: "Watch",
            inputType: ".grpc.health.v1.HealthCheckRequest",
            outputType: ".grpc.health.v1.HealthCheckResponse",
            serverStreaming: true,
          },
        ],
      },
    ],
  });
  const bytes = toBinary(FileDescriptorProtoSchema, file);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
