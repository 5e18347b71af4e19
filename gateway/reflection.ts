import { create, createFileRegistry, createRegistry, type DescFile, type DescService, type Message, toBinary } from "@bufbuild/protobuf";
import {
  DescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) for the public services, so `buf curl`
 * and grpcurl can call the gateway without .proto files, as they can call the services.
 * connect-es ships no reflection service; the two reflection protos are written out here as
 * FileDescriptorProtos (they are small and frozen) and served with the router like any service.
 * Reflection needs HTTP/2 (it is a bidi stream) and no token: it describes only the public API.
 */

function field(name: string, number: number, type: Type, options: { typeName?: string; repeated?: boolean; oneof?: number } = {}) {
  return {
    name,
    number,
    type,
    typeName: options.typeName,
    label: options.repeated ? Label.REPEATED : Label.OPTIONAL,
    jsonName: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
    oneofIndex: options.oneof,
  };
}

function reflectionFile(pkg: string): FileDescriptorProto {
  const t = (name: string) => `.${pkg}.${name}`;
  const messages = [
    {
      name: "ServerReflectionRequest",
      field: [
        field("host", 1, Type.STRING),
        field("file_by_filename", 3, Type.STRING, { oneof: 0 }),
        field("file_containing_symbol", 4, Type.STRING, { oneof: 0 }),
        field("file_containing_extension", 5, Type.MESSAGE, { typeName: t("ExtensionRequest"), oneof: 0 }),
        field("all_extension_numbers_of_type", 6, Type.STRING, { oneof: 0 }),
        field("list_services", 7, Type.STRING, { oneof: 0 }),
      ],
      oneofDecl: [{ name: "message_request" }],
    },
    { name: "ExtensionRequest", field: [field("containing_type", 1, Type.STRING), field("extension_number", 2, Type.INT32)] },
    {
      name: "ServerReflectionResponse",
      field: [
        field("valid_host", 1, Type.STRING),
        field("original_request", 2, Type.MESSAGE, { typeName: t("ServerReflectionRequest") }),
        field("file_descriptor_response", 4, Type.MESSAGE, { typeName: t("FileDescriptorResponse"), oneof: 0 }),
        field("all_extension_numbers_response", 5, Type.MESSAGE, { typeName: t("ExtensionNumberResponse"), oneof: 0 }),
        field("list_services_response", 6, Type.MESSAGE, { typeName: t("ListServiceResponse"), oneof: 0 }),
        field("error_response", 7, Type.MESSAGE, { typeName: t("ErrorResponse"), oneof: 0 }),
      ],
      oneofDecl: [{ name: "message_response" }],
    },
    { name: "FileDescriptorResponse", field: [field("file_descriptor_proto", 1, Type.BYTES, { repeated: true })] },
    {
      name: "ExtensionNumberResponse",
      field: [field("base_type_name", 1, Type.STRING), field("extension_number", 2, Type.INT32, { repeated: true })],
    },
    { name: "ListServiceResponse", field: [field("service", 1, Type.MESSAGE, { typeName: t("ServiceResponse"), repeated: true })] },
    { name: "ServiceResponse", field: [field("name", 1, Type.STRING)] },
    { name: "ErrorResponse", field: [field("error_code", 1, Type.INT32), field("error_message", 2, Type.STRING)] },
  ];
  return create(FileDescriptorProtoSchema, {
    name: `grpc/reflection/${pkg.split(".").pop()}/reflection.proto`,
    package: pkg,
    syntax: "proto3",
    messageType: messages.map((m) => create(DescriptorProtoSchema, m)),
    service: [
      {
        name: "ServerReflection",
        method: [
          {
            name: "ServerReflectionInfo",
            inputType: t("ServerReflectionRequest"),
            outputType: t("ServerReflectionResponse"),
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  });
}

/** `files` and everything they import, each once. */
function withDependencies(files: readonly DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    seen.set(file.proto.name, file);
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);
  return [...seen.values()];
}

const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

interface ReflectionRequest {
  host: string;
  messageRequest: { case: string | undefined; value?: unknown };
}

/** Registers reflection v1 and v1alpha for `services` on `router`. */
export function registerReflection(router: ConnectRouter, services: readonly DescService[]): void {
  const files = withDependencies(services.map((s) => s.file));
  const byName = new Map(files.map((f) => [f.proto.name, f]));
  const lookup = createRegistry(...files);
  const serviceNames = services.map((s) => s.typeName);

  /** The file defining `symbol` (a service, method, message, enum or field name). */
  function fileOf(symbol: string): DescFile | undefined {
    const direct = lookup.get(symbol);
    if (direct && "file" in direct) return direct.file;
    const parent = symbol.slice(0, symbol.lastIndexOf("."));
    const owner = lookup.get(parent);
    return owner && "file" in owner ? owner.file : undefined;
  }

  /** A file with its transitive imports, serialized, the file itself first. */
  function serialized(file: DescFile): Uint8Array[] {
    return withDependencies([file]).map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
  }

  for (const pkg of ["grpc.reflection.v1", "grpc.reflection.v1alpha"]) {
    const file = reflectionFile(pkg);
    const registry = createFileRegistry(file, () => undefined);
    const service = registry.getService(`${pkg}.ServerReflection`)!;
    const names = [...serviceNames, service.typeName];
    const answer = (request: ReflectionRequest): Record<string, unknown> => {
      const { case: kind, value } = request.messageRequest;
      const error = (code: number, message: string) => ({ case: "errorResponse", value: { errorCode: code, errorMessage: message } });
      switch (kind) {
        case "listServices":
          return { case: "listServicesResponse", value: { service: names.map((name) => ({ name })) } };
        case "fileByFilename": {
          const found = byName.get(value as string);
          return found
            ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: serialized(found) } }
            : error(NOT_FOUND, `file ${String(value)} not found`);
        }
        case "fileContainingSymbol": {
          const found = fileOf(value as string);
          return found
            ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: serialized(found) } }
            : error(NOT_FOUND, `symbol ${String(value)} not found`);
        }
        case "allExtensionNumbersOfType":
          return { case: "allExtensionNumbersResponse", value: { baseTypeName: value as string, extensionNumber: [] } };
        default:
          return error(UNIMPLEMENTED, "unsupported reflection request");
      }
    };
    router.service(service, {
      async *serverReflectionInfo(requests: AsyncIterable<Message>) {
        for await (const request of requests) {
          const r = request as unknown as ReflectionRequest;
          yield { validHost: r.host, originalRequest: request, messageResponse: answer(r) };
        }
      },
    } as never);
  }
}

/** Request paths of the reflection services (public: no token needed). */
export const REFLECTION_PATHS = ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"];
