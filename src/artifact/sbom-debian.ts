/**
 * Which Debian package a host file came from, asking dpkg (`dpkg -S`, `dpkg-query -W`). Files
 * dpkg does not know (or hosts without dpkg) are simply left out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { DebianPackage } from './sbom.js';

/** dpkg's own format placeholders (not JavaScript templates). */
const DPKG_FORMAT = [
  '-f=$',
  '{binary:Package} $',
  '{Version} $',
  '{Architecture} $',
  '{source:Package}\\n',
].join('');
const USR_MERGED = /^\/usr(\/(?:lib|lib64|bin|sbin)\/)/;

/** stdout of a command, also when it exits non-zero (dpkg -S does when some path is unknown). */
function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (error) {
    const stdout = (error as { stdout?: string }).stdout;
    return typeof stdout === 'string' && stdout !== '' ? stdout : undefined;
  }
}

/** `debian-12` from /etc/os-release, the purl `distro` qualifier. */
function distro(): string | undefined {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const id = /^ID=(.*)$/m.exec(text)?.[1]?.replace(/"/g, '');
    const version = /^VERSION_ID=(.*)$/m.exec(text)?.[1]?.replace(/"/g, '');
    return id && version ? `${id}-${version}` : id;
  } catch {
    return undefined;
  }
}

/**
 * The owning package (`libc6:amd64`) of each path, in one `dpkg -S` call; a path is also tried
 * by its pre-usrmerge name (`/usr/lib/x` as `/lib/x`), which is how dpkg may know it.
 */
function owners(paths: string[]): Map<string, string> {
  const alias = new Map<string, string>();
  for (const p of paths) {
    alias.set(p, p);
    const old = p.replace(USR_MERGED, '$1');
    if (old !== p) alias.set(old, p);
  }
  const found = new Map<string, string>();
  for (const line of (run('dpkg', ['-S', ...alias.keys()]) ?? '').split('\n')) {
    const m = /^(.+?): (\/.*)$/.exec(line);
    const path = m ? alias.get(m[2]!) : undefined;
    if (m && path && !found.has(path)) found.set(path, m[1]!.split(',')[0]!.trim());
  }
  return found;
}

/** Version and architecture of each installed package, in one `dpkg-query` call. */
function versions(packages: string[]): Map<string, { version: string; arch: string; source: string }> {
  const result = new Map<string, { version: string; arch: string; source: string }>();
  if (packages.length === 0) return result;
  for (const line of (run('dpkg-query', ['-W', DPKG_FORMAT, ...packages]) ?? '').split('\n')) {
    const [pkg, version, arch, source] = line.split(' ');
    if (pkg && version) result.set(pkg, { version, arch: arch ?? '', source: source ?? '' });
  }
  return result;
}

/** The Debian package of each host path dpkg knows, keyed by the same path. */
export function debianPackagesOf(paths: string[]): Record<string, DebianPackage> {
  const result: Record<string, DebianPackage> = {};
  if (paths.length === 0 || run('dpkg', ['--version']) === undefined) return result;
  const dist = distro();
  const owned = owners(paths);
  const known = versions([...new Set(owned.values())]);
  for (const [path, pkg] of owned) {
    const v = known.get(pkg) ?? known.get(pkg.split(':')[0]!);
    if (!v) continue;
    result[path] = {
      package: pkg.split(':')[0]!,
      version: v.version,
      ...(v.arch ? { arch: v.arch } : {}),
      ...(dist ? { distro: dist } : {}),
      ...(v.source && v.source !== pkg.split(':')[0] ? { source: v.source } : {}),
    };
  }
  return result;
}
