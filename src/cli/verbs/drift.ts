import { basename, join } from 'node:path';
import { type AuditLog, openAuditLog } from '../../audit/index.js';
import { allInSync, checkDrift, type DriftReport, detectionEvent, renderDrift } from '../../drift/index.js';
import type { DoorFinding } from '../../kubernetes/index.js';
import { closest, NotFoundError } from '../../lib/index.js';
import { runtimeConfigFor } from '../../runtime/index.js';
import { admissionPolicies, CONFIG_FILES_DIR, ConfigFilePins, neighbours } from '../../server/index.js';
import { loadSpec } from '../../spec/index.js';
import { openStateStore, type SqliteStateStore, workspaceExists } from '../../state/index.js';
import { clientOf, ENV_OPTION, workspaceOf } from '../client.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';

const EXIT_IN_SYNC = 0;
const EXIT_DRIFT = 2;

export const command: Command = {
  name: 'drift',
  summary: 'Check now that every instance is exactly the artifact it was started from.',
  usage: 'cairn drift [--env ENV] [-f FILE] [--output json]\n       cairn drift --clear INSTANCE [-f FILE]',
  description: `Re-hashes each running instance's bundle against its file manifest (content, mode,
added and removed files), checks the bundle against the identity recorded when the instance
started, and with runc compares the runtime config field by field, the mounted secrets (keyed
hashes; no value is ever printed) and the init process's executable, and lists processes the
image's entrypoint did not start, e.g. a \`runc exec\`.
Reads the state store directly, so it works whether or not \`cairn up\` is running. Every finding
is recorded in the audit log as drift.detected.

\`cairn up\` checks continuously too, and in enforce mode replaces what drifts; an instance that
keeps drifting is quarantined (out of traffic, kept running). Once you have inspected it,
\`--clear INSTANCE\` stops it through the running control plane.

For an environment in a Kubernetes cluster it reads the environment's Deployments and pods from
the cluster: a Deployment whose replicas or image differ from what serves, fields another field
manager changed (kubectl scale, set image, edit), a Deployment of a release that does not serve,
a pod with cairn's labels that no cairn Deployment made; \`cairn up\` finds the same from its
watches within seconds and repairs it (re-apply, or delete). The door (the allow-list, cairn's
ValidatingAdmissionPolicies and Bindings, NetworkPolicies, configuration-file ConfigMaps) is judged
as the watch judges it and put back now, as the watch does ("drifted, put back"; audited as
drift.repaired); a deleted allow-list is left to \`cairn up\` or the next deploy.

Exit codes: 0 every instance in sync; 2 drift found (drifted, missing or unknown); 1 error.`,
  options: {
    file: FILE_OPTION,
    env: ENV_OPTION,
    output: OUTPUT_OPTION,
    clear: { type: 'string', description: 'Stop this quarantined instance (needs cairn up).' },
  },
  readsState: true,
  async run(ctx) {
    const clear = ctx.options.clear as string | undefined;
    if (clear !== undefined) {
      await clientOf(ctx).post('/v1/drift/clear', { instance: clear });
      ctx.stdout(`${clear}: quarantine cleared, instance stopped\n`);
      return EXIT_IN_SYNC;
    }
    const { specFile, ws } = workspaceOf(ctx);
    const env = ctx.options.env as string | undefined;
    if (env !== undefined) requireKnownEnv(specFile, env);
    if (!workspaceExists(ws)) {
      ctx.stdout(
        ctx.output === 'json' ? '{"inSync":true,"instances":[]}\n' : 'no workspace yet: nothing runs\n',
      );
      return EXIT_IN_SYNC;
    }
    const store = openStateStore(ws);
    try {
      // Pods are judged from the cluster's objects (below), not as this machine's instances.
      const instances = store
        .listInstances({ live: true, ...(env ? { env } : {}) })
        .filter((i) => i.driver !== 'kubernetes');
      const reports = await checkDrift({
        instances,
        runtime: runtimeConfigFor(ws),
        recordOf: (id) => store.getInstance(id),
        ...(env ? { env } : {}),
      });
      const clusters = await checkClusters(
        specFile,
        store,
        new ConfigFilePins(join(ws.root, CONFIG_FILES_DIR)),
        env,
      );
      const audit = openAuditLog(store, { keyDir: ws.keys });
      recordClusterFindings(store, audit, clusters);
      recordFindings(store, audit, reports);
      const inSync = allInSync(reports) && clusters.every((c) => c.findings.length === 0);
      const kubernetes = clusters.map((c) => ({
        env: c.env,
        inSync: c.findings.length === 0,
        findings: c.findings,
      }));
      ctx.stdout(
        ctx.output === 'json'
          ? `${JSON.stringify({ inSync, instances: reports, ...(clusters.length ? { kubernetes } : {}) }, null, 2)}\n`
          : (instances.length > 0 || clusters.length === 0 ? renderDrift(reports) : '') +
              clusters.map((c) => c.rendered).join(''),
      );
      return inSync ? EXIT_IN_SYNC : EXIT_DRIFT;
    } finally {
      store.close();
    }
  },
};

function requireKnownEnv(specFile: string, env: string): void {
  const { spec } = loadSpec(specFile);
  const names = Object.keys(spec.environments);
  if (names.includes(env)) return;
  const near = closest(env, names);
  throw new NotFoundError(`checking drift: environment "${env}" is not in ${basename(specFile)}`, {
    hint: near ? `did you mean "${near}"?` : `environments: ${names.join(', ') || '(none)'}`,
  });
}

/** One `drift.detected` entry per instance not in sync, all in one transaction (one fsync). */
function recordFindings(store: SqliteStateStore, audit: AuditLog, reports: DriftReport[]): void {
  try {
    store.transaction(() => {
      for (const r of reports) if (r.verdict.status !== 'in-sync') audit.record(detectionEvent(r));
    });
  } finally {
    audit.close();
  }
}

interface ClusterCheck {
  env: string;
  findings: DoorFinding[];
  rendered: string;
}

/** The cluster's objects of each Kubernetes environment (or of `only`) against the state store. */
async function checkClusters(
  specFile: string,
  store: SqliteStateStore,
  pins: ConfigFilePins,
  only?: string,
): Promise<ClusterCheck[]> {
  const loaded = loadSpec(specFile);
  const targets = Object.entries(loaded.spec.environments).filter(
    ([name, e]) => e.kubernetes && (only === undefined || name === only),
  );
  if (targets.length === 0) return [];
  const k8s = await import('../../kubernetes/index.js');
  const out: ClusterCheck[] = [];
  for (const [env, e] of targets) {
    const findings = await k8s.checkClusterDrift({
      env,
      target: e.kubernetes!,
      specDir: loaded.dir,
      serving: store.listServing(env),
      release: (id) => store.getRelease(id),
      policies: admissionPolicies(loaded, env),
      neighbours: (service) => neighbours(loaded, service),
      configFiles: (release) =>
        pins.read(release.id, (release.config.run as { files?: Record<string, string> }).files ?? {}),
      repair: true,
    });
    out.push({ env, findings, rendered: k8s.renderClusterDrift(env, findings) });
  }
  return out;
}

function recordClusterFindings(store: SqliteStateStore, audit: AuditLog, checks: ClusterCheck[]): void {
  for (const c of checks)
    for (const f of c.findings) {
      const subject = {
        instance: f.object,
        env: c.env,
        ...(f.service ? { service: f.service } : {}),
        ...(f.release ? { release: f.release } : {}),
      };
      store.transaction(() => {
        audit.record({
          action: 'drift.detected',
          subject,
          reason: `${f.reasons.length} difference(s), first ${f.reasons[0]}`,
          detail: { driver: 'kubernetes', reasons: f.reasons },
        });
        // The door is put back by `cairn drift` itself, as the watch of `cairn up` does.
        if (f.repairMs !== undefined)
          audit.record({
            action: 'drift.repaired',
            subject,
            reason: 're-applied by cairn drift',
            detail: { driver: 'kubernetes', repairMs: f.repairMs },
          });
      });
    }
}
