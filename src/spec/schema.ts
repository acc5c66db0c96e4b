/** The schema of cairn.yaml. Keep `types.ts` in step with it; `defaults.ts` reads defaults from here. */
import type { Field, ObjectSchema, Schema } from './schema-types.js';

const str = (description: string, extra: Partial<Schema> = {}): Schema =>
  ({ kind: 'string', description, ...extra }) as Schema;
const int = (description: string, min: number, max: number, dflt?: number): Schema => ({
  kind: 'number',
  integer: true,
  min,
  max,
  description,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const duration = (description: string, dflt?: number, min = 0): Schema => ({
  kind: 'duration',
  description,
  min,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const list = (items: Schema, description: string, dflt?: unknown[]): Schema => ({
  kind: 'array',
  items,
  description,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const obj = (description: string, fields: Record<string, Field>): ObjectSchema => ({
  kind: 'object',
  description,
  fields,
});
const req = (schema: Schema): Field => ({ schema, required: true });
const opt = (schema: Schema): Field => ({ schema });

export const DEFAULT_USER_UID = 65532;

const health = obj('Health check (HTTP, or TCP connect); an instance takes traffic only once healthy.', {
  path: opt(str('Path probed with GET; 2xx/3xx is healthy.', { format: 'urlPath', default: '/healthz' })),
  maxStatus: opt(
    // No default filled in: a release's config (and id) stays as it was for specs that do not set it.
    int('Highest HTTP status that counts as healthy (default 399; 499: anything below 500).', 200, 599),
  ),
  tcp: opt({
    kind: 'boolean',
    description:
      'Check only that the port accepts a TCP connection (no HTTP request; path and maxStatus unused).',
  }),
  intervalMs: opt(duration('Time between probes.', 1000, 50)),
  timeoutMs: opt(duration('Probe timeout.', 500, 10)),
  healthyThreshold: opt(int('Consecutive successes before healthy.', 1, 100, 1)),
  unhealthyThreshold: opt(int('Consecutive failures before the instance is replaced.', 1, 100, 3)),
  startPeriodMs: opt(duration('Grace period after start during which failures do not count.', 30_000)),
});

const analysis = obj('Automated canary analysis: canary metrics from the gateway against thresholds.', {
  maxErrorRate: opt({ kind: 'number', min: 0, max: 1, default: 0.01, description: 'Highest 5xx ratio.' }),
  maxP99Ms: opt(duration('Highest 99th percentile latency.', 1000)),
  maxP95Ms: opt(duration('Highest 95th percentile latency.')),
  minRequests: opt(int('Fewer requests than this makes the analysis inconclusive.', 0, 1e9, 100)),
  windowMs: opt(duration('How far back the analysis looks.', 60_000, 100)),
  inconclusive: opt(str('What an inconclusive analysis does.', { enum: ['hold', 'fail'], default: 'hold' })),
});

const step: ObjectSchema = {
  fillDefaults: false,
  ...obj('One canary step: a weight (optionally with a pause), a pause, or an analysis.', {
    weight: opt(int('Percent of traffic to the canary.', 0, 100)),
    pauseMs: opt(duration('Wait after setting the weight.')),
    pause: opt(
      obj('Pause; without durationMs it waits for `cairn resume`.', {
        durationMs: opt(duration('How long to pause.')),
      }),
    ),
    analysis: opt({
      kind: 'object',
      fillDefaults: false,
      fields: analysis.fields,
      description: 'Run the analysis now; fields given override deploy.analysis.',
    }),
  }),
};

/** `NAME` is short for `{ name: NAME }`: a file /run/secrets/NAME. */
const secretRef: ObjectSchema = {
  ...obj('A secret from the store, injected as a file under /run/secrets, an env variable, or both.', {
    name: req(str('Secret name in the store.', { format: 'secretRef' })),
    env: opt(str('Environment variable that carries the value.', { format: 'envName' })),
    file: opt(str('File name under /run/secrets (default: the name, when env is not given).')),
  }),
  fillDefaults: false,
  shorthand: 'name',
};

export const serviceSchema = obj('A service: how its image is built, how it runs, how it is deployed.', {
  build: req(
    obj('Image build inputs.', {
      context: req(str('Folder with the service files, relative to cairn.yaml.', { format: 'relPath' })),
      base: opt(str('Base: host:node, oci:PATH:REF, or REGISTRY/REPO@sha256:…', { default: 'host:node' })),
      include: opt(list(str('Glob.', { format: 'glob' }), 'Files of the context to include.', ['**/*'])),
      exclude: opt(list(str('Glob.', { format: 'glob' }), 'Files to leave out.', [])),
      entrypoint: req({ kind: 'array', minItems: 1, items: str('Argument.'), description: 'Command run.' }),
      workdir: opt(str('Working directory in the image.', { format: 'absPath', default: '/app' })),
      user: opt(int('Numeric uid the service runs as (never 0).', 1, 2 ** 31 - 1, DEFAULT_USER_UID)),
      env: opt({
        kind: 'map',
        keys: { kind: 'string', format: 'envName' },
        values: str('Value baked into the image; never a secret.'),
        description: 'Environment baked into the image.',
      }),
      files: opt({
        kind: 'map',
        keys: { kind: 'string', format: 'absPath' },
        values: str('Source file relative to cairn.yaml.', { format: 'relPath' }),
        description: 'Configuration files baked into the image: image path → source file.',
      }),
    }),
  ),
  run: req(
    obj('How instances run.', {
      port: req(int('Port the service listens on (cairn passes the real one in PORT).', 1, 65535)),
      replicas: opt(int('Instances per environment.', 0, 1000, 1)),
      health: opt(health),
      tmpfs: opt(
        list(str('Path.', { format: 'absPath' }), 'Writable in-memory folders, owned by the image user.', []),
      ),
      volumes: opt(
        list(
          obj('A named volume of this environment, mounted read-write at path.', {
            name: req(str('Volume name, per environment.', { format: 'name' })),
            path: req(str('Folder it is mounted on in the instance.', { format: 'absPath' })),
          }),
          'Persistent folders that outlive instances, releases and `cairn down` (see docs/data.md).',
        ),
      ),
      secrets: opt(list(secretRef, 'Secrets injected at start (never baked into the image).', [])),
      network: opt(
        obj('What an isolated instance may reach; nothing but the gateway reaches it.', {
          egress: opt(
            list(
              str('A service on this host, `127.0.0.1:PORT`; the instance reaches it at $CAIRN_HOST:PORT.', {
                format: 'listen',
              }),
              'Host services the instance may connect to (default none).',
              [],
            ),
          ),
          allow: opt(
            list(
              str('A service of the same environment; reached at $CAIRN_SERVICE_<NAME> (host:port).', {
                format: 'name',
              }),
              'Services whose instances this one may call directly (default none).',
              [],
            ),
          ),
        }),
      ),
      tls: opt({
        kind: 'boolean',
        description:
          'The instance serves HTTPS with its SVID; the gateway connects with its own SVID and checks the instance is this service (needs `identity:`, the builtin gateway engine).',
      }),
      stopGraceMs: opt(duration('Time between SIGTERM and SIGKILL.', 10_000)),
      memoryMb: opt(int('Memory limit in MiB.', 16, 1_048_576)),
      cpus: opt({ kind: 'number', min: 0.01, max: 1024, description: 'CPU limit in cores.' }),
    }),
  ),
  environments: opt({
    kind: 'map',
    keys: { kind: 'string', format: 'name' },
    values: obj('Run settings of this service that differ in one environment (never secrets).', {
      env: opt({
        kind: 'map',
        keys: { kind: 'string', format: 'envName' },
        values: str('Value set in the instances of this environment only; never a secret.'),
        description: 'Environment variables of this environment; they override build.env.',
      }),
      files: opt({
        kind: 'map',
        keys: { kind: 'string', format: 'absPath' },
        values: str('Source file relative to cairn.yaml (at most 1 MiB); never a secret.', {
          format: 'relPath',
        }),
        description:
          'Configuration files of this environment: path in the instance → project file, mounted read-only.',
      }),
    }),
    description:
      'Per-environment configuration: the same image, a release of its own per environment (docs/spec.md).',
  }),
  deploy: opt(
    obj('How a new release replaces the running one.', {
      strategy: opt(str('Strategy.', { enum: ['bluegreen', 'canary', 'rolling'], default: 'rolling' })),
      steps: opt(list(step, 'Canary steps, in order.')),
      analysis: opt(analysis),
      maxSurge: opt(int('Rolling: extra instances at a time.', 0, 1000, 1)),
      maxUnavailable: opt(int('Rolling: instances that may be missing at a time.', 0, 1000, 0)),
      scaleDownDelayMs: opt(duration('Keep the old release warm this long after a switch.', 600_000)),
      drainTimeoutMs: opt(duration('Longest wait for in-flight requests of a removed instance.', 30_000)),
      progressDeadlineMs: opt(duration('A rollout that makes no progress this long fails.', 600_000)),
      // Absent means no preview: `paths` is required, so no default object stands in for it.
      preview: opt(
        obj('Blue/green: analyse the new release on pinned requests before switching (docs/rollouts.md).', {
          durationMs: opt(duration('Preview window before the analysis decides.', 30_000, 100)),
          paths: req(
            list(
              str('Request path.', { format: 'urlPath' }),
              'Paths cairn sends GET requests to, pinned to the new release, during the window ([] for none).',
            ),
          ),
          rps: opt({
            kind: 'number',
            min: 0,
            max: 1000,
            default: 10,
            description: 'Preview requests per second.',
          }),
          analysis: opt({
            kind: 'object',
            fillDefaults: false,
            fields: analysis.fields,
            description: 'Fields given override deploy.analysis for the preview.',
          }),
        }),
      ),
    }),
  ),
});

const environmentSchema = obj('A target environment.', {
  after: opt(str('Predecessor: a release must have completed there first.', { format: 'name' })),
  approval: opt({ kind: 'boolean', default: false, description: 'Promotion needs --approve.' }),
  driver: opt(
    str('Runtime driver.', { enum: ['auto', 'runc', 'bwrap', 'process', 'kubernetes'], default: 'auto' }),
  ),
  kubernetes: opt(
    obj('The Kubernetes cluster this environment lives in (docs/kubernetes.md).', {
      kubeconfig: req(
        str('Kubeconfig file: relative to cairn.yaml, or absolute (a credential: keep it out of git).'),
      ),
      context: opt(str('Context of the kubeconfig to use; absent: its current-context.')),
      namespace: req(str('Namespace the releases run in; cairn creates and labels it.')),
      gatewayNamespace: opt(
        str(
          "Namespace of cairn's gateway in the cluster (a DaemonSet on the nodes, at gateway.listen); absent: the gateway of `cairn up` serves, blue/green only.",
        ),
      ),
      registry: req(
        str('HOST[:PORT][/PATH] cairn pushes images to and the cluster pulls them from, by digest.'),
      ),
    }),
  ),
  gateway: req(
    obj('The front door of this environment.', {
      listen: req(str('host:port of the gateway listener.', { format: 'listen' })),
      pinHeader: opt({
        kind: 'boolean',
        default: true,
        description: 'Honour x-cairn-release to pin a request to a release.',
      }),
      engine: opt(
        str("Data plane: cairn's own HTTP/1.1 proxy, or HAProxy run and steered by cairn.", {
          enum: ['builtin', 'haproxy'],
          default: 'builtin',
        }),
      ),
      maxConnectionsPerClient: opt(
        int('Open connections one client address may hold; more are refused (default 256).', 1, 1_000_000),
      ),
    }),
  ),
  trust: opt(
    obj('Who may sign what runs here.', {
      keys: opt(list(str('Public key (PEM).', { format: 'relPath' }), 'Trusted keys.', [])),
    }),
  ),
  policies: opt(
    list(
      str('Policy file.', { format: 'relPath' }),
      'CEL policy files (docs/policy.md), asked at every door.',
      [],
    ),
  ),
  requireSignature: opt({
    kind: 'boolean',
    description:
      'A release runs here only when a trusted key signed it (default: true when trust.keys names keys).',
  }),
  maxSeverity: opt(
    str('Highest vulnerability severity a release may have here; absent means no scan gate.', {
      enum: ['none', 'low', 'medium', 'high', 'critical'],
    }),
  ),
  drift: opt(
    obj('Continuous drift checks by `cairn up`.', {
      mode: opt(
        str('enforce replaces drifted instances; warn only reports.', {
          enum: ['enforce', 'warn'],
          default: 'enforce',
        }),
      ),
      intervalMs: opt(duration('Time between full verifications (which trust no event).', 60_000, 100)),
      fastPath: opt({
        kind: 'boolean',
        default: true,
        description: 'Also check at once when a file of a bundle changes (filesystem events).',
      }),
    }),
  ),
});

const routeSchema = obj('Sends requests matching host and path prefix to a service.', {
  host: opt(str('Host, "*" or "*.example.com".', { format: 'host', default: '*' })),
  path: opt(str('Path prefix.', { format: 'urlPath', default: '/' })),
  service: req(str('Service name.', { format: 'name' })),
  rateLimit: opt(
    obj('Token bucket per client IP.', {
      rps: req({ kind: 'number', min: 0.001, max: 1e7, description: 'Refill rate per second.' }),
      burst: opt(int('Bucket size.', 1, 1e7)),
    }),
  ),
  maxBodyBytes: opt(int('Largest request body.', 0, 2 ** 40)),
  timeoutMs: opt(duration('Time to the first response byte.')),
  auth: opt({
    // Absent means no authentication, not an empty auth block.
    fillDefaults: false,
    ...obj('JWT bearer authentication: RS256/ES256 against a JWKS file and/or HS256 against a secret.', {
      jwks: opt(str('JWKS file with the public keys, relative to cairn.yaml.', { format: 'relPath' })),
      secret: opt(
        str('Name of the secret holding the HS256 key (never the key itself).', { format: 'secretRef' }),
      ),
      issuer: opt(str('Required `iss` claim.')),
      audience: opt(str('Required `aud` claim.')),
    }),
  }),
});

const acceptance = obj('An accepted vulnerability finding: it does not block until it expires.', {
  id: req(str('Advisory id or alias (GHSA-…, CVE-…, DSA-…).')),
  reason: req(str('Why it is accepted (recorded with every decision).')),
  expires: req(
    str('Date the acceptance ends (YYYY-MM-DD or an RFC 3339 time); then it blocks again.', {
      format: 'date',
    }),
  ),
  services: opt(list(str('Service name.', { format: 'name' }), 'Only for these services (default: all).')),
});

export const specSchema: ObjectSchema = obj('cairn.yaml: the whole desired state of a project.', {
  project: req(str('Project name.', { format: 'name' })),
  services: req({
    kind: 'map',
    keys: { kind: 'string', format: 'name' },
    values: serviceSchema,
    description: 'Services by name.',
  }),
  environments: req({
    kind: 'map',
    keys: { kind: 'string', format: 'name' },
    values: environmentSchema,
    description: 'Environments by name.',
  }),
  routes: opt(list(routeSchema, 'Gateway routes.', [])),
  identity: opt({
    fillDefaults: false,
    ...obj('Workload identity: every instance gets an X.509 SVID from the workspace CA (docs/identity.md).', {
      trustDomain: opt(
        str('SPIFFE trust domain of the IDs (default: `<project>.cairn`).', { format: 'trustDomain' }),
      ),
      hopPort: opt(
        int(
          'Loopback port of the identity hop, where services call each other by identity (default 7443).',
          1,
          65535,
        ),
      ),
      svidTtlMs: opt(
        duration('Lifetime of an SVID; it is renewed at half of it (default 1h).', undefined, 2000),
      ),
    }),
  }),
  vuln: opt(
    obj('Vulnerability scanning against the local OSV database (`cairn vuln db import`).', {
      ignore: opt(list(acceptance, 'Accepted findings, each with a reason and an expiry.', [])),
    }),
  ),
});
