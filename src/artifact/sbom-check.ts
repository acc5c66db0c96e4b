/**
 * Does an SBOM list what the image contains? Compares the components of a CycloneDX document (by
 * their image path) with the inventory read from the layers, both ways. Pure.
 */

import { PATH_PROPERTY } from './sbom.js';
import type { Inventory } from './sbom-inventory.js';

interface CdxComponent {
  name?: string;
  group?: string;
  version?: string;
  hashes?: Array<{ alg?: string; content?: string }>;
  properties?: Array<{ name?: string; value?: string }>;
}

interface Listed {
  name: string;
  version?: string;
  sha256?: string;
}

const MAX_PROBLEMS_SHOWN = 5;

function listedByPath(sbom: unknown): Map<string, Listed> {
  const components = (sbom as { components?: CdxComponent[] } | null)?.components;
  const byPath = new Map<string, Listed>();
  if (!Array.isArray(components)) return byPath;
  for (const c of components) {
    const path = c.properties?.find((p) => p.name === PATH_PROPERTY)?.value;
    if (typeof path !== 'string') continue;
    byPath.set(path, {
      name: c.group ? `${c.group}/${c.name}` : String(c.name),
      ...(c.version !== undefined ? { version: c.version } : {}),
      ...(sha256Of(c) ? { sha256: sha256Of(c)! } : {}),
    });
  }
  return byPath;
}

function sha256Of(c: CdxComponent): string | undefined {
  return c.hashes?.find((h) => h.alg === 'SHA-256')?.content;
}

/**
 * The differences between an SBOM and an image's inventory, as sentences; empty when the SBOM lists
 * every npm package, runtime and shared library with the right version or hash, and nothing else.
 */
export function compareSbom(inventory: Inventory, sbom: unknown): string[] {
  const listed = listedByPath(sbom);
  const problems: string[] = [];
  const seen = new Set<string>();
  const expect = (path: string, what: string, ok: (l: Listed) => boolean, detail: (l: Listed) => string) => {
    seen.add(path);
    const l = listed.get(path);
    if (!l) problems.push(`${what} at ${path} is not in the sbom`);
    else if (!ok(l)) problems.push(`${what} at ${path}: ${detail(l)}`);
  };
  for (const p of inventory.npm) {
    expect(
      p.path,
      `npm package ${p.name}@${p.version}`,
      (l) => l.name === p.name && l.version === p.version,
      (l) => `the sbom says ${l.name}@${l.version}`,
    );
  }
  const files = [
    ...inventory.runtimes.map((r) => ({
      path: r.path,
      sha256: r.sha256,
      version: r.version,
      what: `runtime ${r.name}`,
    })),
    ...inventory.libraries.map((l) => ({
      path: l.path,
      sha256: l.sha256,
      version: undefined,
      what: 'shared library',
    })),
  ];
  for (const f of files) {
    expect(
      f.path,
      f.what,
      (l) => l.sha256 === f.sha256 && (f.version === undefined || l.version === f.version),
      (l) => (l.sha256 !== f.sha256 ? 'the sbom has another sha256' : `the sbom says version ${l.version}`),
    );
  }
  for (const path of listed.keys()) {
    if (!seen.has(path)) problems.push(`the sbom lists ${path}, which the image does not contain`);
  }
  return problems;
}

/** A one-line summary of sbom problems for a check's detail. */
export function summariseProblems(problems: string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).join('; ');
  const more = problems.length - MAX_PROBLEMS_SHOWN;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}
