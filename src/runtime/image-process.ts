/**
 * What an image asks to run: its user (resolved through the image's own /etc/passwd and /etc/group),
 * environment, command and working folder, read from its OCI config. Pure.
 */
import { ValidationError } from '../lib/index.js';
import type { ImageProcess } from './types.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OciImageConfigJson {
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Volumes?: Record<string, unknown> | null;
    Labels?: Record<string, string> | null;
  };
}

/** The numeric id of `name` in a passwd- or group-format file, when it is listed. */
export function lookupId(fileText: string | undefined, name: string): number | undefined {
  for (const line of (fileText ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return undefined;
}

/** The primary gid of a uid in a passwd-format file. */
function primaryGid(passwd: string | undefined, uid: number): number | undefined {
  for (const line of (passwd ?? '').split('\n')) {
    const f = line.split(':');
    if (f[2] === String(uid) && f[3] !== undefined && /^\d+$/.test(f[3])) return Number(f[3]);
  }
  return undefined;
}

function resolveId(text: string | undefined, value: string, what: string, image: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const id = lookupId(text, value);
  if (id === undefined) {
    throw new ValidationError(
      `reading image ${image}: ${what} "${value}" is not in the image's /etc/${what === 'user' ? 'passwd' : 'group'}`,
      [],
      {
        hint: 'set a numeric user (build.user) in cairn.yaml and rebuild',
      },
    );
  }
  return id;
}

/**
 * Resolves `User` (`uid`, `name`, `uid:gid`, `name:group`) to numbers. cairn never runs an instance
 * as root: an image without a non-root user is refused.
 */
export function resolveUser(
  user: string | undefined,
  passwd: string | undefined,
  group: string | undefined,
  image: string,
) {
  const [u = '', g] = (user ?? '').split(':');
  const uid = u === '' ? 0 : resolveId(passwd, u, 'user', image);
  if (uid === 0) {
    throw new ValidationError(
      `preparing image ${image}: it runs as root, and cairn runs only non-root instances`,
      [],
      {
        hint: 'set build.user to a non-zero uid in cairn.yaml (default 65532) and rebuild',
      },
    );
  }
  const gid =
    g !== undefined && g !== '' ? resolveId(group, g, 'group', image) : (primaryGid(passwd, uid) ?? uid);
  return { uid, gid };
}

/** The process an image describes: entrypoint + cmd, env with a PATH, working folder, user. */
export function imageProcess(
  config: OciImageConfigJson,
  etc: { passwd?: string; group?: string },
  image: string,
): ImageProcess {
  const c = config.config ?? {};
  const args = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (args.length === 0) {
    throw new ValidationError(`preparing image ${image}: it has no entrypoint or cmd to run`, [], {
      hint: 'set build.entrypoint in cairn.yaml and rebuild',
    });
  }
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  const { uid, gid } = resolveUser(c.User, etc.passwd, etc.group, image);
  return { uid, gid, env, args, cwd: c.WorkingDir || '/' };
}

/** Merges `NAME=value` lists: later values win, order of first appearance is kept. */
export function mergeEnv(base: string[], overrides: Record<string, string>): string[] {
  const map = new Map<string, string>();
  for (const entry of base) {
    const eq = entry.indexOf('=');
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(overrides)) map.set(k, v);
  return [...map].map(([k, v]) => `${k}=${v}`);
}
