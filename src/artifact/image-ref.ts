/** Registry image references (`REGISTRY/REPO[:TAG][@sha256:…]`) and base specifications. Pure. */
import { isDigest, ValidationError } from '../lib/index.js';

export interface RegistryRef {
  /** host[:port] */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Parses `host[:port]/repo[:tag][@digest]`; the registry host is required (no implicit docker.io). */
export function parseRegistryRef(input: string): RegistryRef {
  const fail = (why: string) =>
    new ValidationError(`reading image reference "${input}": ${why}`, [], {
      hint: 'write it as REGISTRY/REPO[:TAG] or REGISTRY/REPO@sha256:<64 hex>, e.g. 127.0.0.1:5000/hello:v1',
    });
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw fail('the digest is not sha256:<64 hex>');
  }
  const slash = rest.indexOf('/');
  if (slash <= 0) throw fail('it names no registry');
  const registry = rest.slice(0, slash);
  let repository = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(':');
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!TAG.test(tag)) throw fail(`"${tag}" is not a valid tag`);
  }
  if (!/^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-f:]+\](?::\d+)?$/.test(registry))
    throw fail(`"${registry}" is not a registry host`);
  if (!REPO.test(repository))
    throw fail(`"${repository}" is not a valid repository name (lower case, digits, . _ -)`);
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatRegistryRef(ref: RegistryRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Whether a registry host is this machine (where `--insecure` is allowed). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[')
    ? registry.slice(0, registry.indexOf(']') + 1)
    : registry.split(':')[0]!;
  return LOOPBACK.has(host);
}

export type BaseSpec =
  | { kind: 'host-node' }
  | { kind: 'layout'; path: string; ref: string }
  | { kind: 'registry'; ref: RegistryRef & { digest: string } };

/** Parses `build.base`: `host:node`, `oci:PATH:REF`, or `REGISTRY/REPO@sha256:…` (pinned). */
export function parseBaseSpec(base: string): BaseSpec {
  if (base === 'host:node') return { kind: 'host-node' };
  if (base.startsWith('oci:')) {
    const rest = base.slice('oci:'.length);
    const colon = rest.indexOf(':');
    if (colon <= 0 || colon === rest.length - 1) {
      throw new ValidationError(`reading base "${base}": expected oci:PATH:REF`, [], {
        hint: 'name the image layout folder and the ref in its index.json, e.g. oci:./base:node',
      });
    }
    return { kind: 'layout', path: rest.slice(0, colon), ref: rest.slice(colon + 1) };
  }
  const ref = parseRegistryRef(base);
  if (!ref.digest) {
    throw new ValidationError(`reading base "${base}": a registry base must be pinned by digest`, [], {
      hint: `append @sha256:<digest> (find it with \`skopeo inspect docker://${base}\`)`,
    });
  }
  return { kind: 'registry', ref: { ...ref, digest: ref.digest } };
}
