/**
 * The files of one instance. Under `.cairn/runtime/instances/<id>/`: its handle (instance.json, so
 * any driver can find its instances after a restart), pid and runtime log. Anything that holds a
 * secret value — the secret files, runc's config.json with env secrets — lives in the instance's
 * private folder instead: in memory (`/dev/shm`), outside the workspace, mode 0700, removed with
 * the instance. Its log file is `.cairn/logs/<id>.log`. Secret files are mode 0400, owned by the
 * instance's user.
 */
import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DriverError, sha256Hex } from '../lib/index.js';
import { envMap, expandVars } from './expand-vars.js';
import { svidVars, writeSvidFiles } from './svid-files.js';
import type { InstanceHandle, InstanceSpec, RuntimeConfig } from './types.js';

const HANDLE_FILE = 'instance.json';
/** Where an instance on the host's network listens: only the gateway on this host reaches it. */
const LOOPBACK_HOST = '127.0.0.1';
/** Where an isolated instance listens: its own namespace, reached only through its veth. */
export const ALL_INTERFACES = '0.0.0.0';
const SECRET_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** A memory-backed folder every Linux has; secrets written there never reach a disk. */
const MEMORY_DIR = '/dev/shm';

export const instancesDir = (config: RuntimeConfig): string => join(config.runtimeDir, 'instances');
export const instanceDir = (config: RuntimeConfig, id: string): string => join(instancesDir(config), id);
export const logPathOf = (config: RuntimeConfig, id: string): string => join(config.logsDir, `${id}.log`);

/** What locates the private folders: the runtime folder alone (drift derives them the same way). */
type PrivateLocation = Pick<RuntimeConfig, 'runtimeDir'>;

/** Where the private folders of a workspace's instances are: one per runtime folder. */
export function privateRoot(config: PrivateLocation): string {
  if (!existsSync(MEMORY_DIR)) return join(config.runtimeDir, 'private');
  return join(MEMORY_DIR, `cairn-${sha256Hex(resolve(config.runtimeDir)).slice(0, 12)}`);
}
export const privateDirOf = (config: PrivateLocation, id: string): string => join(privateRoot(config), id);
/** The host folder bind-mounted (or pointed to) as the instance's /run/secrets. */
export const secretsDirOf = (config: PrivateLocation, id: string): string =>
  join(privateDirOf(config, id), 'secrets');

/**
 * Creates the instance folder (refusing an id in use), its private folder, and writes its secret
 * files; returns the secrets folder when there are any. `chownToImageUser`: the instance's uid on
 * the host is the image's (runc), so secrets must belong to it; otherwise (bwrap, process) the
 * instance runs as the caller, who owns them.
 */
export async function createInstanceDir(
  config: RuntimeConfig,
  spec: InstanceSpec,
  chownToImageUser: boolean,
): Promise<string | undefined> {
  const dir = instanceDir(config, spec.id);
  if (existsSync(dir)) throw new DriverError(`starting ${spec.id}: an instance with this id already exists`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await ensurePrivateRoot(config);
  await mkdir(privateDirOf(config, spec.id), { recursive: true, mode: 0o700 });
  const secrets = Object.entries(spec.secrets ?? {});
  if (secrets.length === 0 && !spec.svid) return undefined;
  const secretsDir = secretsDirOf(config, spec.id);
  await mkdir(secretsDir, { mode: 0o700 });
  const asRoot = chownToImageUser && process.getuid?.() === 0;
  const { uid, gid } = spec.bundle.process;
  if (spec.svid) await writeSvidFiles(secretsDir, spec.svid, asRoot ? { uid, gid } : undefined);
  for (const [name, value] of secrets) {
    if (!SECRET_FILE.test(name))
      throw new DriverError(`starting ${spec.id}: secret file "${name}" is not a valid file name`);
    const file = join(secretsDir, name);
    await writeFile(file, value, { mode: 0o400, flag: 'wx' });
    if (asRoot) await chown(file, uid, gid);
  }
  if (asRoot) await chown(secretsDir, uid, gid);
  return secretsDir;
}

/** The private root is ours alone: a folder (not a link) another user made in /dev/shm is refused. */
async function ensurePrivateRoot(config: RuntimeConfig): Promise<void> {
  const root = privateRoot(config);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const st = await lstat(root);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o077) !== 0) {
    throw new DriverError(`starting an instance: ${root} is not a private folder of this user`, {
      hint: `remove ${root} (another user or program made it) and start again`,
    });
  }
}

/** Opens (creating) the log file for appending; the caller passes the descriptor to the instance. */
export async function openLog(config: RuntimeConfig, id: string) {
  await mkdir(config.logsDir, { recursive: true, mode: 0o700 });
  return open(logPathOf(config, id), 'a', 0o640);
}

export async function writeHandle(config: RuntimeConfig, handle: InstanceHandle): Promise<void> {
  await writeFile(join(instanceDir(config, handle.id), HANDLE_FILE), `${JSON.stringify(handle, null, 2)}\n`, {
    mode: 0o600,
  });
}

export async function readHandle(config: RuntimeConfig, id: string): Promise<InstanceHandle | undefined> {
  try {
    return JSON.parse(await readFile(join(instanceDir(config, id), HANDLE_FILE), 'utf8')) as InstanceHandle;
  } catch {
    return undefined;
  }
}

/** Every handle recorded under the runtime folder. */
export async function readHandles(config: RuntimeConfig): Promise<InstanceHandle[]> {
  const ids = await readdir(instancesDir(config)).catch(() => [] as string[]);
  const handles = await Promise.all(ids.map((id) => readHandle(config, id)));
  return handles.filter((h): h is InstanceHandle => h !== undefined);
}

/** Removes the instance folder and its private folder (secrets with it); the log stays for `cairn logs`. */
export async function removeInstanceDir(config: RuntimeConfig, id: string): Promise<void> {
  await rm(privateDirOf(config, id), { recursive: true, force: true });
  await rm(instanceDir(config, id), { recursive: true, force: true });
  // The last instance out removes the workspace's private root (another may be starting: then it stays).
  await rmdir(privateRoot(config)).catch(() => undefined);
}

/** Removes private folders whose instance folder is gone (a crash between the two removals). */
export async function sweepPrivateDirs(config: RuntimeConfig): Promise<string[]> {
  const ids = await readdir(privateRoot(config)).catch(() => [] as string[]);
  const orphans = ids.filter((id) => !existsSync(instanceDir(config, id)));
  await Promise.all(orphans.map((id) => rm(privateDirOf(config, id), { recursive: true, force: true })));
  return orphans;
}

/**
 * The environment an instance gets: injected values, secrets given as env, where secret files are,
 * and where to listen — HOST:PORT, HOST being loopback unless the driver isolates its network.
 */
export function instanceVars(
  spec: InstanceSpec,
  secretsPath: string,
  host = LOOPBACK_HOST,
): Record<string, string> {
  const vars: Record<string, string> = {
    ...(spec.vars ?? {}),
    ...(spec.secretEnv ?? {}),
    HOST: host,
    PORT: String(spec.port),
  };
  if (spec.secrets && Object.keys(spec.secrets).length > 0) vars.CAIRN_SECRETS_DIR = secretsPath;
  return spec.svid ? { ...vars, ...svidVars(secretsPath) } : vars;
}

/**
 * The image's arguments with `$(VAR)` expanded from the instance's environment `env` (as the
 * instance gets it) — except secrets given as env: their values never reach a command line.
 */
export function instanceArgs(spec: InstanceSpec, env: readonly string[]): string[] {
  const vars = envMap(env);
  for (const name of Object.keys(spec.secretEnv ?? {})) delete vars[name];
  return spec.bundle.process.args.map((arg) => expandVars(arg, vars));
}

/** The handle fields every driver fills the same way. */
export function baseHandle(config: RuntimeConfig, spec: InstanceSpec) {
  return {
    id: spec.id,
    releaseId: spec.releaseId,
    service: spec.service,
    env: spec.env,
    imageDigest: spec.bundle.imageDigest,
    endpoint: `127.0.0.1:${spec.port}`,
    port: spec.port,
    logPath: logPathOf(config, spec.id),
    startedAt: new Date().toISOString(),
  };
}

/**
 * Every tmpfs and volume path must already be a folder in the bundle (the image declares it, see
 * prepareBundle): runtimes must not create it in a shared root.
 */
export async function checkMountPaths(spec: InstanceSpec): Promise<void> {
  const paths = [...spec.run.tmpfs, ...(spec.run.volumes ?? []).map((v) => v.path)];
  for (const path of paths) {
    const stat = await lstat(join(spec.bundle.rootfs, path)).catch(() => undefined);
    if (!stat?.isDirectory()) {
      throw new DriverError(
        `starting ${spec.id}: mount path ${path} is not a folder in image ${spec.bundle.imageDigest}`,
        {
          hint: `rebuild the image with \`cairn build\` (it declares run.tmpfs and volume paths as mount points), or remove ${path} from the spec`,
        },
      );
    }
  }
}
