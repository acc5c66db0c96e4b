/**
 * Keeps evidence of a drifted instance before it is stopped: the report (every changed path with
 * its recorded and observed digests) and copies of small changed or added files, under
 * `.cairn/forensics/<instance>-<time>/`. Nothing is followed out of the bundle's rootfs.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DriftReport } from './check.js';

/** Files larger than this are listed in the report, not copied. */
export const MAX_COPIED_FILE_BYTES = 64 * 1024;

/** Writes the evidence folder and returns its path. `at` names it (an ISO time). */
export async function keepForensics(
  forensicsDir: string,
  report: DriftReport,
  rootfs: string,
  at: string,
): Promise<string> {
  const dir = join(forensicsDir, `${report.instance}-${at.replace(/[:.]/g, '')}`);
  await mkdir(join(dir, 'files'), { recursive: true, mode: 0o700 });
  const copied: string[] = [];
  if (report.verdict.status === 'drifted') {
    for (const reason of report.verdict.reasons) {
      if (reason.kind !== 'file' || (reason.change !== 'content' && reason.change !== 'added')) continue;
      if (await copyIfSmall(rootfs, reason.path, join(dir, 'files', reason.path))) copied.push(reason.path);
    }
  }
  await writeFile(join(dir, 'report.json'), `${JSON.stringify({ at, report, copied }, null, 2)}\n`, {
    mode: 0o600,
  });
  return dir;
}

/** Copies a regular file of at most MAX_COPIED_FILE_BYTES; refuses symlinks anywhere on its path. */
async function copyIfSmall(rootfs: string, path: string, to: string): Promise<boolean> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  let current = rootfs;
  for (const part of parts.slice(0, -1)) {
    current = join(current, part);
    const stat = await lstat(current).catch(() => undefined);
    if (!stat?.isDirectory()) return false;
  }
  const handle = await open(join(rootfs, ...parts), constants.O_RDONLY | constants.O_NOFOLLOW).catch(
    () => undefined,
  );
  if (!handle) return false;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > MAX_COPIED_FILE_BYTES) return false;
    const bytes = await handle.readFile();
    await mkdir(dirname(to), { recursive: true, mode: 0o700 });
    await writeFile(to, bytes, { mode: 0o600 });
    return true;
  } finally {
    await handle.close();
  }
}
