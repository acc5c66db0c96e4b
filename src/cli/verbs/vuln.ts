import { join, resolve } from 'node:path';
import { workspaceFor } from '../../state/index.js';
import { osvRecordsAt, VULN_DB_FILE, VulnDb } from '../../vuln/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION, UsageError } from '../command.js';
import { workspaceAnchor } from '../workspace-anchor.js';

const USAGE = 'cairn vuln db import PATH | cairn vuln db status [-f FILE] [--output json]';

export const command: Command = {
  name: 'vuln',
  summary: 'Manage the local OSV vulnerability database the scan gate reads.',
  usage: USAGE,
  description: `db import PATH indexes OSV records into .cairn/vuln.db: a directory of OSV .json files, a zip
of them as osv.dev publishes per ecosystem (e.g. npm/all.zip, Debian/all.zip), or one record.
Known ids are replaced, new ones added; a malformed record stops the import naming the file and
the record, and nothing is imported. The database is as fresh as its last import; the scan gate
refuses an image created after it. db status shows the import date and the counts.
Exit 0 on success, 1 on bad input. See docs/scan.md.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  readsState: true,
  run(ctx) {
    const [group, action, path, ...rest] = ctx.args;
    if (group !== 'db' || (action !== 'import' && action !== 'status') || rest.length > 0) {
      throw new UsageError('managing the vulnerability database: say `db import PATH` or `db status`', USAGE);
    }
    const anchor = workspaceAnchor(ctx.options.file as string | undefined, ctx.cwd, ctx.env);
    const dbFile = join(workspaceFor(anchor, ctx.env).root, VULN_DB_FILE);
    if (action === 'import') {
      if (!path) throw new UsageError('importing OSV data: name a directory, zip or .json file', USAGE);
      const started = performance.now();
      const db = VulnDb.open(dbFile, { create: true });
      try {
        const result = db.import(osvRecordsAt(resolve(ctx.cwd, path)));
        const meta = db.meta()!;
        const seconds = (performance.now() - started) / 1000;
        if (ctx.output === 'json')
          ctx.stdout(`${JSON.stringify({ ...result, ...meta, seconds }, null, 2)}\n`);
        else
          ctx.stdout(
            `imported ${result.records} OSV record(s), ${result.packages} affected package(s) in ${seconds.toFixed(1)} s; the database now holds ${meta.advisories} advisories, as of ${meta.asOf}\n`,
          );
      } finally {
        db.close();
      }
      return 0;
    }
    const db = VulnDb.open(dbFile);
    try {
      const meta = db.meta();
      if (ctx.output === 'json') ctx.stdout(`${JSON.stringify(meta ?? null, null, 2)}\n`);
      else
        ctx.stdout(
          meta
            ? `vulnerability database: ${meta.advisories} advisories, ${meta.packages} affected package(s), imported ${meta.asOf}, newest record ${meta.newestRecord}\n`
            : 'vulnerability database: empty\n',
        );
    } finally {
      db.close();
    }
    return 0;
  },
};
