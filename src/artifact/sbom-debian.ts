/**
 * Which Debian package a host file came from, asking dpkg (`dpkg -S`, `dpkg-query -W`). Files
 * dpkg does not know (or hosts without dpkg) are simply left out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { DebianPackage } from './sbom.js';

/** dpkg's own format placeholders (not JavaScript templates). */
const DPKG_FORMAT = ['-f=$', '{Version} $', '{Architecture}'].join('');
const USR_MERGED = /^\/usr(\/(?:lib|lib64|bin|sbin)\/)/;

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
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

/** The owning package (`libc6:amd64`) of a path, trying the pre-usrmerge path dpkg may know it by. */
function owner(path: string): string | undefined {
  for (const candidate of [path, path.replace(USR_MERGED, '$1')]) {
    const line = run('dpkg', ['-S', candidate])?.split('\n')[0] ?? '';
    const packages = /^(.+?): \//.exec(line)?.[1];
    if (packages) return packages.split(',')[0]!.trim();
  }
  return undefined;
}

/** The Debian package of each host path dpkg knows, keyed by the same path. */
export function debianPackagesOf(paths: string[]): Record<string, DebianPackage> {
  const result: Record<string, DebianPackage> = {};
  if (run('dpkg', ['--version']) === undefined) return result;
  const dist = distro();
  const versions = new Map<string, { version: string; arch: string } | undefined>();
  for (const path of paths) {
    const pkg = owner(path);
    if (!pkg) continue;
    if (!versions.has(pkg)) {
      const out = run('dpkg-query', ['-W', DPKG_FORMAT, pkg])?.trim().split(' ');
      versions.set(pkg, out?.[0] ? { version: out[0], arch: out[1] ?? '' } : undefined);
    }
    const v = versions.get(pkg);
    if (!v) continue;
    result[path] = {
      package: pkg.split(':')[0]!,
      version: v.version,
      ...(v.arch ? { arch: v.arch } : {}),
      ...(dist ? { distro: dist } : {}),
    };
  }
  return result;
}
