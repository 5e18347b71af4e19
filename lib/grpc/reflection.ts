import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import { healthFileDescriptor } from "./health-descriptor.js";

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** Full name of the health service, listed by reflection next to the application services. */
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

/**
 * gRPC server reflection (v1 and v1alpha) for `services` and grpc.health.v1, so `buf curl` and
 * grpcurl can list and call methods without .proto files. @grpc/reflection expects a
 * proto-loader package definition but only reads its serialized FileDescriptorProtos, so it is
 * fed the descriptors protobuf-es already has: each service's file and its transitive imports.
 */
export function createReflection(services: readonly DescService[]): ReflectionService {
  const packageDefinition: PackageDefinition = {};
  for (const file of withDependencies(services.map((service) => service.file))) {
    packageDefinition[file.proto.name] = {
      format: "Protocol Buffer 3 DescriptorProto",
      type: {},
      fileDescriptorProtos: [Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto))],
    };
  }
  packageDefinition[HEALTH_SERVICE_NAME] = {
    format: "Protocol Buffer 3 DescriptorProto",
    type: {},
    fileDescriptorProtos: [healthFileDescriptor()],
  };
  return new ReflectionService(packageDefinition, {
    // Only what this server serves, not every service declared in the same files.
    services: [...services.map((service) => service.typeName), HEALTH_SERVICE_NAME],
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
