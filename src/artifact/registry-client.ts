/**
 * A client for the OCI distribution API: blob existence checks, monolithic and chunked uploads,
 * manifest push with its media type, pulls verified against their digests, basic and bearer auth.
 */
import { CairnError, sha256Digest, shortDigest, ValidationError } from '../lib/index.js';
import { isLoopbackRegistry } from './image-ref.js';
import type { Descriptor } from './oci.js';
import { authorize, type Credentials, parseChallenge } from './registry-auth.js';

/** Blobs larger than this are uploaded in chunks of this size (PATCH with Content-Range). */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export interface RegistryClientConfig {
  /** host[:port] */
  registry: string;
  /** Plain HTTP; only allowed for a registry on this machine (127.0.0.1, localhost, ::1). */
  insecure?: boolean;
  credentials?: Credentials;
  chunkBytes?: number;
}

/** Called as bytes move: done so far, and the total. */
export type Progress = (done: number, total: number) => void;

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export class RegistryClient {
  readonly kind = 'registry';
  private readonly base: string;
  private readonly authByRepo = new Map<string, string>();

  constructor(private readonly config: RegistryClientConfig) {
    if (config.insecure && !isLoopbackRegistry(config.registry)) {
      throw new ValidationError(
        `connecting to ${config.registry}: --insecure is only allowed for a registry on this machine`,
        [],
        {
          hint: 'use TLS for remote registries; --insecure is for 127.0.0.1, localhost or [::1]',
        },
      );
    }
    this.base = `${config.insecure ? 'http' : 'https'}://${config.registry}`;
  }

  async hasBlob(repo: string, digest: string, action: string): Promise<boolean> {
    const res = await this.send(action, repo, `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
    if (res.status === 404) return false;
    if (res.ok) return true;
    throw this.failure(action, res);
  }

  /** Uploads a blob unless the registry has it; returns whether bytes were sent. */
  async pushBlob(
    repo: string,
    bytes: Buffer,
    d: Descriptor,
    action: string,
    onProgress?: Progress,
  ): Promise<boolean> {
    if (await this.hasBlob(repo, d.digest, action)) {
      onProgress?.(d.size, d.size);
      return false;
    }
    let location = await this.startUpload(repo, action);
    const chunk = this.config.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    let body: Buffer = bytes;
    if (bytes.byteLength > chunk) {
      for (let start = 0; start < bytes.byteLength; start += chunk) {
        const part = bytes.subarray(start, Math.min(start + chunk, bytes.byteLength));
        location = await this.patchChunk(repo, location, part, start, action);
        onProgress?.(start + part.byteLength, bytes.byteLength);
      }
      body = Buffer.alloc(0);
    }
    const url = new URL(location, this.base);
    url.searchParams.set('digest', d.digest);
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) };
    const res = await this.send(action, repo, url.href, { method: 'PUT', headers, body }, true);
    if (res.status !== 201) throw this.failure(action, res);
    await res.body?.cancel();
    onProgress?.(bytes.byteLength, bytes.byteLength);
    return true;
  }

  async putManifest(
    repo: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    action: string,
  ): Promise<string> {
    const init = { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes };
    const res = await this.send(action, repo, `/v2/${repo}/manifests/${reference}`, init, true);
    if (res.status !== 201) throw this.failure(action, res);
    await res.body?.cancel();
    return res.headers.get('docker-content-digest') ?? sha256Digest(bytes);
  }

  async getManifest(repo: string, reference: string, action: string): Promise<FetchedManifest> {
    const res = await this.send(action, repo, `/v2/${repo}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
    });
    if (!res.ok) throw this.failure(action, res);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(bytes);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new CairnError(
        'integrity',
        `${action}: the registry sent a manifest with digest ${digest}, not ${reference}`,
      );
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    return { bytes, mediaType, digest };
  }

  /** Downloads a blob and checks its digest before returning it. */
  async getBlob(repo: string, d: Descriptor, action: string, onProgress?: Progress): Promise<Buffer> {
    const res = await this.send(action, repo, `/v2/${repo}/blobs/${d.digest}`, {});
    if (!res.ok || !res.body) throw this.failure(action, res);
    const chunks: Buffer[] = [];
    let done = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(chunk));
      done += chunk.byteLength;
      onProgress?.(done, d.size);
    }
    const bytes = Buffer.concat(chunks);
    if (sha256Digest(bytes) !== d.digest) {
      throw new CairnError(
        'integrity',
        `${action}: blob ${shortDigest(d.digest)} arrived with a different digest`,
        {
          hint: 'the registry or a proxy altered the content; nothing was stored',
        },
      );
    }
    return bytes;
  }

  private async startUpload(repo: string, action: string): Promise<string> {
    const res = await this.send(
      action,
      repo,
      `/v2/${repo}/blobs/uploads/`,
      { method: 'POST', headers: { 'content-length': '0' } },
      true,
    );
    const location = res.headers.get('location');
    if (res.status !== 202 || !location) throw this.failure(action, res);
    await res.body?.cancel();
    return location;
  }

  private async patchChunk(
    repo: string,
    location: string,
    part: Buffer,
    start: number,
    action: string,
  ): Promise<string> {
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(part.byteLength),
      'content-range': `${start}-${start + part.byteLength - 1}`,
    };
    const res = await this.send(
      action,
      repo,
      new URL(location, this.base).href,
      { method: 'PATCH', headers, body: part },
      true,
    );
    const next = res.headers.get('location');
    if (res.status !== 202 || !next) throw this.failure(action, res);
    await res.body?.cancel();
    return next;
  }

  /** Sends a request, answering one 401 challenge with credentials or a token, then retrying. */
  private async send(
    action: string,
    repo: string,
    path: string,
    init: RequestInit,
    push = false,
  ): Promise<Response> {
    const url = new URL(path, this.base);
    const headers = new Headers(init.headers);
    const auth = this.authByRepo.get(`${repo}:${push}`);
    if (auth) headers.set('authorization', auth);
    let res = await this.fetch(action, url, { ...init, headers });
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    if (!challenge) return res;
    await res.body?.cancel();
    if (challenge.scheme === 'bearer' && !challenge.params.scope) {
      challenge.params.scope = `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
    }
    const value = await authorize(challenge, this.config.credentials, action);
    this.authByRepo.set(`${repo}:${push}`, value);
    headers.set('authorization', value);
    res = await this.fetch(action, url, { ...init, headers });
    return res;
  }

  private async fetch(action: string, url: URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CairnError(
        'registry_unreachable',
        `${action}: cannot reach ${this.config.registry} (${why})`,
        {
          hint: this.connectHint(why ?? ''),
          cause: error,
        },
      );
    }
  }

  private connectHint(why: string): string {
    if (/CERT|SSL_|TLS|self.signed|unable to verify/i.test(why) && !why.includes('WRONG_VERSION')) {
      return 'the registry certificate is not trusted: add its CA with NODE_EXTRA_CA_CERTS=ca.pem (never disable verification)';
    }
    if (!this.config.insecure && isLoopbackRegistry(this.config.registry)) {
      return 'start the registry, check the address, or pass --insecure for a local registry without TLS';
    }
    return 'start the registry or check the address';
  }

  private failure(action: string, res: Response): CairnError {
    void res.body?.cancel();
    const hint =
      res.status === 401 || res.status === 403
        ? 'check CAIRN_REGISTRY_USERNAME / CAIRN_REGISTRY_PASSWORD and your access to the repository'
        : res.status === 404
          ? 'check the repository name and tag'
          : 'try again; if it persists, check the registry logs';
    return new CairnError(
      'registry',
      `${action}: the registry answered ${res.status} ${res.statusText}`.trim(),
      { hint },
    );
  }
}
