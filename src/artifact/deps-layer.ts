/**
 * The dependencies layer: production `node_modules` installed from the service's lockfile with
 * `npm ci --omit=dev --ignore-scripts`, in a scratch folder, never from the developer's own tree.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CairnError, sha256Digest, ValidationError } from '../lib/index.js';
import { contextEntries, readSource } from './context-files.js';
import type { LayerRequest } from './layer-cache.js';
import type { LayerEntry } from './tar-layer.js';

const LOCKFILE = 'package-lock.json';
const run = promisify(execFile);

/**
 * What a context without a lockfile means, checked before anything is built: an error when its
 * package.json lists dependencies (they would be missing from the image), otherwise a warning
 * that the image has no dependencies layer. Undefined when there is a lockfile or no package.json.
 */
export function lockfileWarning(context: string, service: string): string | undefined {
  if (existsSync(join(context, LOCKFILE))) return undefined;
  const manifest = join(context, 'package.json');
  if (!existsSync(manifest)) return undefined;
  const deps = dependencyNames(context, manifest);
  if (deps.length > 0) {
    const shown = deps.length > 3 ? `${deps.slice(0, 3).join(', ')}, …` : deps.join(', ');
    throw new ValidationError(
      `building ${service}: package.json lists ${deps.length} dependencies (${shown}) but there is no ${LOCKFILE}, so none would be installed`,
      [],
      { hint: `create it with \`npm install --package-lock-only\` in the build context and commit it` },
    );
  }
  return `building ${service}: no ${LOCKFILE} and no dependencies in package.json: the image has no dependencies layer`;
}

function dependencyNames(context: string, manifest: string): string[] {
  const text = readSource(context, manifest, 'package.json').toString('utf8');
  let pkg: { dependencies?: unknown };
  try {
    pkg = JSON.parse(text) as { dependencies?: unknown };
  } catch (error) {
    throw new ValidationError(
      `building: reading ${manifest.split('/').slice(-2).join('/')}: not valid JSON`,
      [],
      {
        hint: 'fix package.json (npm would refuse it too)',
        cause: error,
      },
    );
  }
  const deps = pkg.dependencies;
  return typeof deps === 'object' && deps !== null ? Object.keys(deps).sort() : [];
}

/** The layer request for a context's lockfile, or undefined when the service has none. */
export function depsLayerRequest(
  context: string,
  workdir: string,
  mtimeSec: number,
): LayerRequest | undefined {
  const lock = join(context, LOCKFILE);
  if (!existsSync(lock)) return undefined;
  const manifest = join(context, 'package.json');
  // The bytes hashed are the bytes installed from: read once, inside the context, never through a link out.
  const inputs = {
    lock: readSource(context, lock, LOCKFILE),
    manifest: readSource(context, manifest, 'package.json'),
  };
  const key = { lock: sha256Digest(inputs.lock), manifest: sha256Digest(inputs.manifest), workdir };
  return {
    createdBy: 'cairn: dependencies (npm ci --omit=dev)',
    key,
    mtimeSec,
    entries: () => install(inputs, workdir),
  };
}

async function install(inputs: { lock: Buffer; manifest: Buffer }, workdir: string): Promise<LayerEntry[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'cairn-deps-'));
  try {
    writeFileSync(join(scratch, 'package.json'), inputs.manifest);
    writeFileSync(join(scratch, LOCKFILE), inputs.lock);
    try {
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: scratch });
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new CairnError('build', `installing dependencies from ${LOCKFILE}: npm ci failed`, {
        hint: `${stderr.trim().split('\n').slice(-3).join(' ')} — check that ${LOCKFILE} matches package.json`,
        cause: error,
      });
    }
    if (!existsSync(join(scratch, 'node_modules'))) return [];
    const files = walkAll(join(scratch, 'node_modules'), 'node_modules');
    return contextEntries(scratch, files, workdir);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function walkAll(dir: string, rel: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...walkAll(join(dir, e.name), `${rel}/${e.name}`));
    else out.push(`${rel}/${e.name}`);
  }
  return out;
}
