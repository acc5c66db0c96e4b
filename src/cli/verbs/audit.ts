import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type AuditFilter,
  formatEntryLine,
  openAuditLog,
  readAuditPublicKey,
  type VerifyReport,
  verifyExportFile,
  verifyTlogProof,
} from '../../audit/index.js';
import { parseDurationMs } from '../../lib/index.js';
import { findSpecFile, SPEC_FILE } from '../../spec/index.js';
import { openStateStore, workspaceFor } from '../../state/index.js';
import { type Command, type CommandContext, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { EXIT_DENIED, EXIT_OK } from '../errors.js';

const USAGE = `cairn audit log [--service S] [--env E] [--since T] [--output json]
       cairn audit verify [--export FILE --key PUB] [--proof FILE --key PUB] [--output json]
       cairn audit prove INDEX [--output json]
       cairn audit export > FILE
       cairn audit checkpoint [--output json]`;

type Sub = (ctx: CommandContext) => number;

function withAudit<T>(
  ctx: CommandContext,
  fn: (audit: ReturnType<typeof openAuditLog>) => T,
  opts: { quickCheck?: boolean } = {},
): T {
  let file: string;
  try {
    file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
  } catch (error) {
    if (!ctx.env.CAIRN_HOME) throw error;
    file = resolve(ctx.cwd, SPEC_FILE);
  }
  const ws = workspaceFor(file, ctx.env);
  const store = openStateStore(ws, [], opts);
  try {
    return fn(openAuditLog(store, { keyDir: ws.keys }));
  } finally {
    store.close();
  }
}

function since(ctx: CommandContext): string | undefined {
  const value = ctx.options.since as string | undefined;
  if (value === undefined) return undefined;
  const ago = parseDurationMs(value);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  if (Number.isNaN(Date.parse(value))) {
    throw new UsageError(
      `reading --since: "${value}" is neither a time (2026-01-31T12:00:00Z) nor a duration (2h)`,
      USAGE,
    );
  }
  return new Date(value).toISOString();
}

const log: Sub = (ctx) => {
  const filter: AuditFilter = {
    service: ctx.options.service as string,
    env: ctx.options.env as string,
    since: since(ctx),
  };
  const entries = withAudit(ctx, (audit) => audit.list(filter));
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify({ entries }, null, 2)}\n`);
  else for (const e of entries) ctx.stdout(`${formatEntryLine(e)}\n`);
  return EXIT_OK;
};

function renderReport(ctx: CommandContext, report: VerifyReport, source: string): number {
  if (ctx.output === 'json') {
    ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return report.ok ? EXIT_OK : EXIT_DENIED;
  }
  if (report.ok) {
    ctx.stdout(
      `verified ${source}: ${report.entries} entries, ${report.checkpoints} checkpoints, root ${report.rootHash.slice(0, 16)}…\n`,
    );
    if (report.unsignedEntries > 0) {
      ctx.stderr(`warning: the last ${report.unsignedEntries} entries are not covered by a checkpoint yet\n`);
    }
    return EXIT_OK;
  }
  const first = report.firstBadIndex === undefined ? '' : ` at index ${report.firstBadIndex}`;
  ctx.stderr(`error: verifying ${source}: the log was tampered with${first}\n`);
  for (const f of report.findings)
    ctx.stderr(`  ${f.index === undefined ? '' : `index ${f.index}: `}${f.problem}\n`);
  ctx.stderr(
    `hint: entries before index ${report.firstBadIndex ?? report.signedSize} are intact; keep this database and an export as evidence\n`,
  );
  return EXIT_DENIED;
}

function keyOption(ctx: CommandContext, what: string) {
  const key = ctx.options.key as string | undefined;
  if (!key)
    throw new UsageError(
      `verifying ${what}: --key PUB is required (the audit.pub you trust, not one inside the file)`,
      USAGE,
    );
  return readAuditPublicKey(resolve(ctx.cwd, key));
}

function verifyProofFile(ctx: CommandContext, file: string): number {
  const verdict = verifyTlogProof(readFileSync(resolve(ctx.cwd, file), 'utf8'), keyOption(ctx, file));
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify(verdict, null, 2)}\n`);
  else if (verdict.ok)
    ctx.stdout(
      `verified ${file}: entry ${verdict.index} is in the log of ${verdict.size} signed by ${verdict.origin}\n`,
    );
  else ctx.stderr(`error: verifying ${file}: ${verdict.problem}\n`);
  return verdict.ok ? EXIT_OK : EXIT_DENIED;
}

const verify: Sub = (ctx) => {
  const exportFile = ctx.options.export as string | undefined;
  const proofFile = ctx.options.proof as string | undefined;
  if (proofFile) return verifyProofFile(ctx, proofFile);
  if (exportFile)
    return renderReport(
      ctx,
      verifyExportFile(resolve(ctx.cwd, exportFile), keyOption(ctx, exportFile)),
      exportFile,
    );
  const key = ctx.options.key ? readAuditPublicKey(resolve(ctx.cwd, ctx.options.key as string)) : undefined;
  return renderReport(
    ctx,
    // Verifying reads everything anyway: check the whole file first, so damage is named as such.
    withAudit(ctx, (audit) => audit.verify(key), { quickCheck: true }),
    'the audit log',
  );
};

const prove: Sub = (ctx) => {
  const text = ctx.args[1];
  if (text === undefined || !/^(0|[1-9][0-9]*)$/.test(text))
    throw new UsageError(`reading INDEX: "${text ?? ''}" is not an entry index`, USAGE);
  const proof = withAudit(ctx, (audit) => audit.prove(Number(text)));
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify(proof, null, 2)}\n`);
  else ctx.stdout(proof.text);
  return EXIT_OK;
};

const exportLog: Sub = (ctx) => {
  withAudit(ctx, (audit) => audit.exportTo(ctx.stdout));
  return EXIT_OK;
};

const checkpoint: Sub = (ctx) => {
  const cp = withAudit(ctx, (audit) => audit.checkpoint());
  if (ctx.output === 'json') ctx.stdout(`${JSON.stringify(cp, null, 2)}\n`);
  else ctx.stdout(cp.note);
  return EXIT_OK;
};

const SUBCOMMANDS: Record<string, Sub> = { log, verify, prove, export: exportLog, checkpoint };

export const command: Command = {
  name: 'audit',
  summary: 'Read, prove, export and verify the tamper-evident audit log.',
  usage: USAGE,
  description: `log     lists entries (oldest first), filtered by service, environment and time (--since 2h or a time).
verify  recomputes the Merkle tree from every entry, checks every checkpoint signature and the
        consistency between successive checkpoints; with --export FILE it verifies an export without
        .cairn/, with --proof FILE a single inclusion proof. Exit 3 names the first bad index.
prove   prints a c2sp.org/tlog-proof of entry INDEX against the latest checkpoint (signing one if needed).
export  writes entries, checkpoints and the public key as one file to stdout.
checkpoint  signs the current tree head now and prints the signed note (the control plane does this
        every 1000 entries, every 60 s and on shutdown).`,
  options: {
    file: FILE_OPTION,
    output: OUTPUT_OPTION,
    service: { type: 'string', value: 'S', description: 'Only entries about this service (log).' },
    env: { type: 'string', value: 'E', description: 'Only entries about this environment (log).' },
    since: {
      type: 'string',
      value: 'T',
      description: 'Only entries at or after a time, or this long ago (log).',
    },
    export: {
      type: 'string',
      value: 'FILE',
      description: 'Verify this export file instead of .cairn/ (verify).',
    },
    proof: { type: 'string', value: 'FILE', description: 'Verify this inclusion proof file (verify).' },
    key: { type: 'string', value: 'PUB', description: 'The audit public key (PEM) to verify with (verify).' },
  },
  readsState: true,
  run(ctx) {
    const sub = SUBCOMMANDS[ctx.args[0] ?? ''];
    if (!sub)
      throw new UsageError(
        `reading the subcommand: "${ctx.args[0] ?? ''}" is not log, verify, prove, export or checkpoint`,
        USAGE,
      );
    return sub(ctx);
  },
};
