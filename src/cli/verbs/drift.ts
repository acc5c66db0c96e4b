import { basename } from 'node:path';
import { type AuditLog, openAuditLog } from '../../audit/index.js';
import { allInSync, checkDrift, type DriftReport, detectionEvent, renderDrift } from '../../drift/index.js';
import { closest, NotFoundError } from '../../lib/index.js';
import { runtimeConfigFor } from '../../runtime/index.js';
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
      const instances = store.listInstances({ live: true, ...(env ? { env } : {}) });
      const reports = await checkDrift({
        instances,
        runtime: runtimeConfigFor(ws),
        recordOf: (id) => store.getInstance(id),
        ...(env ? { env } : {}),
      });
      recordFindings(store, openAuditLog(store, { keyDir: ws.keys }), reports);
      const inSync = allInSync(reports);
      ctx.stdout(
        ctx.output === 'json'
          ? `${JSON.stringify({ inSync, instances: reports }, null, 2)}\n`
          : renderDrift(reports),
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

/** One `drift.detected` entry per instance not in sync, written with the state store's transaction. */
function recordFindings(store: SqliteStateStore, audit: AuditLog, reports: DriftReport[]): void {
  try {
    for (const r of reports) {
      if (r.verdict.status !== 'in-sync') store.transaction(() => audit.record(detectionEvent(r)));
    }
  } finally {
    audit.close();
  }
}
