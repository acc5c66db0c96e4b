/**
 * Rules for the writable folders of a service (`run.tmpfs`, `run.volumes`): what could never be
 * mounted, or would hide what the image holds, is reported by `cairn validate` — not found by a
 * rollout that never gets healthy. Pure.
 */
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;

export interface MountRuleContext {
  error(path: PathPart[], message: string): void;
  warn(path: PathPart[], message: string): void;
  /** What exists at a path relative to cairn.yaml. */
  fileKind(relPath: string): 'file' | 'dir' | undefined;
}

/** Paths the runtime itself mounts: nothing of the spec goes on or under them. */
const SYSTEM_PATHS = ['/proc', '/sys', '/dev', '/run/secrets'];
const DEFAULT_WORKDIR = '/app';

interface Mount {
  kind: 'tmpfs' | 'volume';
  path: string;
  at: PathPart[];
}

/** `a` is `b` or a folder above it. */
const covers = (a: string, b: string): boolean => a === b || b.startsWith(a.endsWith('/') ? a : `${a}/`);

const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Checks run.tmpfs and run.volumes of the service at `at` against each other and the image. */
export function checkMounts(at: PathPart[], service: Obj, ctx: MountRuleContext): void {
  const build = asObj(service.build);
  const mounts = collect(at, asObj(service.run), ctx);
  mounts.forEach((m, i) => {
    const problem = mountProblem(m, mounts.slice(0, i), build);
    if (problem) ctx.error(m.at, problem);
    else warnFileInContext(m, build, ctx);
  });
}

/**
 * A mount path under the workdir where the build context has a file: the image would have a file
 * where the folder must be, and no instance could start (its bundle is refused). A warning, since
 * build.include or exclude may leave the file out.
 */
function warnFileInContext(m: Mount, build: Obj, ctx: MountRuleContext): void {
  const workdir = typeof build.workdir === 'string' ? build.workdir : DEFAULT_WORKDIR;
  if (typeof build.context !== 'string' || !covers(workdir, m.path)) return;
  const parts = m.path.slice(workdir.length + 1).split('/');
  for (let n = 1; n <= parts.length; n++) {
    const rel = `${build.context.replace(/\/$/, '')}/${parts.slice(0, n).join('/')}`;
    if (ctx.fileKind(rel) === 'file') {
      ctx.warn(
        m.at,
        `${m.kind} ${m.path} needs a folder where build.context has the file ${rel}: an image with it cannot start; rename the file, exclude it, or mount elsewhere`,
      );
      return;
    }
  }
}

/** Why `m` cannot be mounted (given the mounts before it and the image), or undefined. */
function mountProblem(m: Mount, before: Mount[], build: Obj): string | undefined {
  const what = m.kind;
  if (m.path === '/') return 'the root filesystem stays read-only; name a folder such as /tmp';
  if (m.path.endsWith('/') || m.path.includes('//') || m.path.split('/').includes('.'))
    return `"${m.path}" is not a clean path: write it without "//", "." or a trailing "/"`;
  const system = SYSTEM_PATHS.find((s) => covers(s, m.path) || covers(m.path, s));
  if (system) return `${what} ${m.path} would cover ${system}, which cairn mounts itself`;
  const other = before.find((o) => covers(o.path, m.path) || covers(m.path, o.path));
  if (other) {
    const how = other.path === m.path ? 'is also' : 'overlaps';
    return `${what} ${m.path} ${how} ${other.kind} ${other.path}; give each mount its own folder`;
  }
  const workdir = typeof build.workdir === 'string' ? build.workdir : DEFAULT_WORKDIR;
  if (covers(m.path, workdir))
    return `${what} ${m.path} would hide the app's files in ${workdir} (build.workdir); mount a folder beside or below it, e.g. ${workdir}/data`;
  const hidden = Object.keys(asObj(build.files)).find((f) => covers(m.path, f));
  if (hidden)
    return `${what} ${m.path} would hide ${hidden} (build.files); mount another folder or move the file`;
  return undefined;
}

/** Every mount with where it is written; volume names are checked for duplicates on the way. */
function collect(at: PathPart[], run: Obj, ctx: MountRuleContext): Mount[] {
  const mounts: Mount[] = [];
  asList(run.tmpfs).forEach((p, i) => {
    if (typeof p === 'string') mounts.push({ kind: 'tmpfs', path: p, at: [...at, 'run', 'tmpfs', i] });
  });
  const names = new Set<string>();
  asList(run.volumes).forEach((v, i) => {
    const { name, path } = asObj(v);
    if (typeof name === 'string' && names.has(name))
      ctx.error([...at, 'run', 'volumes', i, 'name'], `volume "${name}" is listed twice; mount it once`);
    if (typeof name === 'string') names.add(name);
    if (typeof path === 'string')
      mounts.push({ kind: 'volume', path, at: [...at, 'run', 'volumes', i, 'path'] });
  });
  return mounts;
}
