/**
 * The files of one instance under `.cairn/runtime/instances/<id>/`: its handle (instance.json, so
 * any driver can find its instances after a restart) and its secrets folder; plus its log file under
 * `.cairn/logs/<id>.log`. Secret files are mode 0400, owned by the instance's user.
 */
import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError } from '../lib/index.js';
import type { InstanceHandle, InstanceSpec, RuntimeConfig } from './types.js';

const HANDLE_FILE = 'instance.json';
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export const instancesDir = (config: RuntimeConfig): string => join(config.runtimeDir, 'instances');
export const instanceDir = (config: RuntimeConfig, id: string): string => join(instancesDir(config), id);
export const logPathOf = (config: RuntimeConfig, id: string): string => join(config.logsDir, `${id}.log`);

/**
 * Creates the instance folder (refusing an id in use) and writes its secrets; returns the secrets
 * folder. `chownToImageUser`: the instance's uid on the host is the image's (runc), so secrets
 * must belong to it; otherwise (bwrap, process) the instance runs as the caller, who owns them.
 */
export async function createInstanceDir(
  config: RuntimeConfig,
  spec: InstanceSpec,
  chownToImageUser: boolean,
): Promise<string | undefined> {
  const dir = instanceDir(config, spec.id);
  if (existsSync(dir)) throw new DriverError(`starting ${spec.id}: an instance with this id already exists`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const secrets = Object.entries(spec.secrets ?? {});
  if (secrets.length === 0) return undefined;
  const secretsDir = join(dir, 'secrets');
  await mkdir(secretsDir, { mode: 0o700 });
  const asRoot = chownToImageUser && process.getuid?.() === 0;
  const { uid, gid } = spec.bundle.process;
  for (const [name, value] of secrets) {
    if (!SECRET_NAME.test(name))
      throw new DriverError(`starting ${spec.id}: secret name "${name}" is not a valid file name`);
    const file = join(secretsDir, name);
    await writeFile(file, value, { mode: 0o400, flag: 'wx' });
    if (asRoot) await chown(file, uid, gid);
  }
  if (asRoot) await chown(secretsDir, uid, gid);
  return secretsDir;
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

/** Removes the instance folder (its secrets with it); the log file stays for `cairn logs`. */
export async function removeInstanceDir(config: RuntimeConfig, id: string): Promise<void> {
  await rm(instanceDir(config, id), { recursive: true, force: true });
}

/** The environment an instance gets: the image's, injected values, PORT, and where secrets are. */
export function instanceVars(spec: InstanceSpec, secretsPath: string): Record<string, string> {
  const vars: Record<string, string> = { ...(spec.vars ?? {}), PORT: String(spec.port) };
  if (spec.secrets && Object.keys(spec.secrets).length > 0) vars.CAIRN_SECRETS_DIR = secretsPath;
  return vars;
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

/** Every tmpfs path must already be a folder in the bundle: runtimes must not create it in a shared root. */
export async function checkTmpfsPaths(spec: InstanceSpec): Promise<void> {
  for (const path of spec.run.tmpfs) {
    const stat = await lstat(join(spec.bundle.rootfs, path)).catch(() => undefined);
    if (!stat?.isDirectory()) {
      throw new DriverError(
        `starting ${spec.id}: tmpfs path ${path} is not a folder in image ${spec.bundle.imageDigest}`,
        {
          hint: `add the folder ${path} to the image (build.files or the app) or remove it from run.tmpfs`,
        },
      );
    }
  }
}
