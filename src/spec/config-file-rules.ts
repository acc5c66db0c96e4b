/**
 * Rules for a service's per-environment configuration files (`services.X.environments.ENV.files`):
 * each source is a project file no larger than MAX_CONFIG_FILE_BYTES, and each target is a clean
 * absolute file path that no other mount and no baked file claims. Pure: what exists, and how big
 * it is, is asked of the rule context.
 */
import type { PathPart } from './validate.js';

type Obj = Record<string, unknown>;

/** The largest configuration file a release pins: 1 MiB (real config files are a few KiB). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface ConfigFileRuleContext {
  error(path: PathPart[], message: string, at?: 'key' | 'value'): void;
  /** What exists at a path relative to cairn.yaml. */
  fileKind(relPath: string): 'file' | 'dir' | undefined;
  /** The size in bytes of a file relative to cairn.yaml, when the rule context can tell. */
  fileBytes?(relPath: string): number | undefined;
}

/** Paths the runtime itself mounts: no configuration file goes on or under them. */
const SYSTEM_PATHS = ['/proc', '/sys', '/dev', '/run/secrets'];
const DEFAULT_WORKDIR = '/app';

/** `a` is `b` or a folder above it. */
const covers = (a: string, b: string): boolean => a === b || b.startsWith(a.endsWith('/') ? a : `${a}/`);
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Checks every environment's `files` of the service `name`. */
export function checkConfigFiles(name: string, service: Obj, ctx: ConfigFileRuleContext): void {
  const claimed = claimedPaths(service);
  for (const [env, settings] of Object.entries(asObj(service.environments))) {
    const files = Object.entries(asObj(asObj(settings).files));
    for (const [target, source] of files) {
      const at = ['services', name, 'environments', env, 'files', target];
      const problem =
        targetProblem(target, claimed) ??
        nestedProblem(
          target,
          files.map(([t]) => t),
        );
      if (problem) ctx.error(at, problem, 'key');
      if (typeof source === 'string') checkSource(at, target, source, ctx);
    }
  }
}

/** What else the service puts at a path: its mounts, its baked files, its working folder. */
function claimedPaths(service: Obj): Array<{ path: string; what: string; exact?: boolean }> {
  const build = asObj(service.build);
  const run = asObj(service.run);
  const workdir = typeof build.workdir === 'string' ? build.workdir : DEFAULT_WORKDIR;
  return [
    ...SYSTEM_PATHS.map((path) => ({ path, what: `${path}, which cairn mounts itself` })),
    ...asList(run.tmpfs).flatMap((p) => (typeof p === 'string' ? [{ path: p, what: `tmpfs ${p}` }] : [])),
    ...asList(run.volumes).flatMap((v) => {
      const path = asObj(v).path;
      return typeof path === 'string' ? [{ path, what: `volume ${path}` }] : [];
    }),
    ...Object.keys(asObj(build.files)).map((path) => ({
      path,
      what: `${path} of build.files (baked into the image)`,
      exact: true,
    })),
    { path: workdir, what: `the app's folder ${workdir} (build.workdir)`, exact: true },
  ];
}

function targetProblem(target: string, claimed: ReturnType<typeof claimedPaths>): string | undefined {
  if (target === '/' || target.endsWith('/') || target.includes('//') || target.split('/').includes('.'))
    return `"${target}" is not a clean file path: write it without "//", "." or a trailing "/"`;
  for (const c of claimed) {
    if (
      c.exact ? target === c.path || covers(target, c.path) : covers(c.path, target) || covers(target, c.path)
    )
      return `configuration file ${target} collides with ${c.what}; mount it at another path`;
  }
  return undefined;
}

/** A target that is a folder above another target of the same environment cannot be a file. */
function nestedProblem(target: string, targets: string[]): string | undefined {
  const inner = targets.find((t) => t !== target && covers(target, t));
  return inner
    ? `configuration file ${target} would be the folder of ${inner}; give each file its own path`
    : undefined;
}

function checkSource(at: PathPart[], target: string, source: string, ctx: ConfigFileRuleContext): void {
  if (ctx.fileKind(source) !== 'file') {
    ctx.error(at, `file "${source}" for ${target} does not exist`);
    return;
  }
  const bytes = ctx.fileBytes?.(source);
  if (bytes !== undefined && bytes > MAX_CONFIG_FILE_BYTES)
    ctx.error(
      at,
      `file "${source}" for ${target} is ${bytes.toLocaleString('en-US')} bytes, more than the 1 MiB a configuration file may be; ` +
        'keep configuration small, and put data on a volume (run.volumes) or into the image (build.files)',
    );
}
