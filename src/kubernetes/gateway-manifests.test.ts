import { describe, expect, it } from 'vitest';
import { gatesManifests } from './admission.js';
import {
  DEFAULT_ADMIN_PORT,
  type GatewayDocument,
  gatewayConfigMap,
  gatewayDaemonSet,
  gatewayManifests,
  gatewayNamespaceManifest,
  gatewayRole,
  gatewayRoleBinding,
  readGatewayDocument,
} from './gateway-manifests.js';

const workload = {
  env: 'prod',
  namespace: 'hello-prod',
  gatewayNamespace: 'hello-prod-gw',
  image: '127.0.0.1:5000/cairn/cairn-gateway@sha256:ab',
  listen: '127.0.0.1:8443',
  apiServer: 'https://127.0.0.1:16443',
};
type Container = {
  image: string;
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  securityContext: Record<string, unknown>;
  readinessProbe: { httpGet: { path: string; port: number } };
  livenessProbe: { httpGet: { path: string; port: number } };
  ports: Array<{ containerPort: number }>;
};
const podOf = (m: Record<string, unknown>) =>
  (m.spec as { template: { spec: Record<string, unknown> & { containers: Container[] } } }).template.spec;

describe('the in-cluster gateway objects', () => {
  it('labels the gateway namespace privileged (host network), not restricted', () => {
    const labels = gatewayNamespaceManifest('hello-prod-gw').metadata.labels as Record<string, string>;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('privileged');
  });

  it("lets the gateway's ServiceAccount read its one ConfigMap in the environment's namespace, nothing else", () => {
    const role = gatewayRole(workload);
    expect(role.metadata.namespace).toBe('hello-prod');
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['cairn-gateway'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    const binding = gatewayRoleBinding(workload);
    expect(binding.metadata.namespace).toBe('hello-prod');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'cairn-gateway', namespace: 'hello-prod-gw' },
    ]);
  });

  it('runs one hardened host-network pod per node with the pod contract in its env', () => {
    const ds = gatewayDaemonSet(workload);
    expect(ds.kind).toBe('DaemonSet');
    expect(ds.metadata.namespace).toBe('hello-prod-gw');
    const pod = podOf(ds);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.serviceAccountName).toBe('cairn-gateway');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [c] = pod.containers;
    expect(c!.image).toBe(workload.image);
    expect(c!.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const env = Object.fromEntries(c!.env.map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toEqual({
      CAIRN_GATEWAY_LISTEN: '127.0.0.1:8443',
      CAIRN_GATEWAY_ADMIN_PORT: String(DEFAULT_ADMIN_PORT),
      CAIRN_POD_IP: { fieldRef: { fieldPath: 'status.podIP' } },
      CAIRN_GATEWAY_NAMESPACE: 'hello-prod',
      CAIRN_GATEWAY_CONFIGMAP: 'cairn-gateway',
      CAIRN_KUBE_APISERVER: 'https://127.0.0.1:16443',
    });
    expect(c!.readinessProbe.httpGet).toEqual({ path: '/healthz', port: DEFAULT_ADMIN_PORT });
    // Liveness does not depend on the config: a pod waiting for its first ConfigMap is not restarted.
    expect(c!.livenessProbe.httpGet).toEqual({ path: '/livez', port: DEFAULT_ADMIN_PORT });
    expect(c!.ports.map((p) => p.containerPort)).toEqual([8443, DEFAULT_ADMIN_PORT]);
  });

  it('applies the namespace first and the DaemonSet last (its ServiceAccount and Role exist by then)', () => {
    expect(gatewayManifests(workload).map((m) => m.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'DaemonSet',
    ]);
  });

  it('carries version, config and pools in gateway.json, read back as written', () => {
    const doc: GatewayDocument = {
      version: 7,
      config: {
        engine: 'builtin',
        listen: '127.0.0.1:8443',
        routes: [{ host: '*', path: '/', service: 'hello' }],
      },
      pools: {
        hello: [{ release: 'rel-1', weight: 100, endpoints: [{ id: 'pod-a', address: '10.244.0.5:8080' }] }],
      },
    };
    const cm = gatewayConfigMap('hello-prod', 'prod', doc);
    expect(cm.metadata).toMatchObject({ name: 'cairn-gateway', namespace: 'hello-prod' });
    expect(readGatewayDocument(cm)).toEqual(doc);
    expect(readGatewayDocument({ data: { 'gateway.json': '{not json' } })).toBeUndefined();
    expect(readGatewayDocument(undefined)).toBeUndefined();
  });

  it('reads and writes only documents the gateway pods accept (their own parser)', () => {
    const doc: GatewayDocument = {
      version: 2,
      config: {
        engine: 'builtin',
        listen: '127.0.0.1:8443',
        routes: [{ host: '*', path: '/', service: 'hello' }],
      },
      pools: {
        hello: [{ release: 'rel-1', weight: 100, endpoints: [{ id: 'pod-a', address: '10.244.0.5:8080' }] }],
      },
    };
    // A pool with tls is refused by the pods (no SVID): never written.
    const tls = {
      ...doc,
      pools: { hello: [{ ...doc.pools.hello![0]!, tls: { serverName: 'x' } }] },
    } as never;
    expect(() => gatewayConfigMap('hello-prod', 'prod', tls)).toThrow(
      /writing the in-cluster gateway's config of environment prod: the gateway pods would refuse it \(reading gateway.json: pools.hello\[0\] has tls/,
    );
    // A live document the pods would refuse (no config) is not taken for a good one.
    const noConfig = { data: { 'gateway.json': JSON.stringify({ version: 9, pools: {} }) } };
    expect(readGatewayDocument(noConfig)).toBeUndefined();
  });

  it("puts the gateway namespace under the allow-list's Binding, and only there", () => {
    const selector = (m: Record<string, unknown>) =>
      (m.spec as { matchResources: { namespaceSelector: unknown } }).matchResources.namespaceSelector;
    expect(selector(gatesManifests('hello-prod', 'prod', 'hello-prod-gw')[1]!)).toEqual({
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['hello-prod', 'hello-prod-gw'] },
      ],
    });
    expect(selector(gatesManifests('hello-prod', 'prod')[1]!)).toEqual({
      matchLabels: { 'kubernetes.io/metadata.name': 'hello-prod' },
    });
  });
});
