/**
 * Gives instances their SPIFFE identity: an SVID when an instance starts (before it can be healthy,
 * so before any traffic), and a new one at half-life while it lives. Never renewed for an instance
 * that is stopped, failed, quarantined or drifted: its SVID simply runs out (revocation by
 * non-renewal). Every issuance is an audit entry (serial, SPIFFE ID, instance, release, not-after).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AuditEvent } from '../audit/index.js';
import { type IdentityConfig, issueSvid, type Svid, type WorkloadCa } from '../identity/index.js';
import {
  type RuntimeConfig,
  type SvidFiles,
  secretsDirOf,
  svidDirOf,
  svidOwner,
  writeSvidFiles,
} from '../runtime/index.js';
import type { InstanceRecord, InstanceState } from '../state/index.js';

/** States in which an instance keeps its identity fresh. */
const RENEWED_STATES: ReadonlySet<InstanceState> = new Set(['starting', 'healthy', 'unhealthy', 'draining']);
export const SVID_ISSUE_ACTION = 'identity.svid.issue';

/** Who an SVID is issued to. */
export interface IdentitySubject {
  env: string;
  service: string;
  release: string;
  instance: string;
}

interface Validity {
  spiffeId?: string;
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
}

export interface InstanceIdentityDeps {
  ca: WorkloadCa;
  config: IdentityConfig;
  runtime: Pick<RuntimeConfig, 'runtimeDir'>;
  /** Records an issuance in the audit log (in a transaction of its own). */
  record: (event: AuditEvent) => void;
  /** Whether the drift check found the instance out of sync. */
  isDrifted?: (id: string) => boolean;
}

export class InstanceIdentity {
  private readonly validity = new Map<string, Validity>();

  constructor(private readonly deps: InstanceIdentityDeps) {}

  get trustDomain(): string {
    return this.deps.config.trustDomain;
  }

  /** What the hop's own certificate is issued with. */
  issuerOfHop(): { ca: WorkloadCa; trustDomain: string } {
    return { ca: this.deps.ca, trustDomain: this.trustDomain };
  }

  /** The CA certificate peers verify against (PEM). */
  get bundlePem(): string {
    return this.deps.ca.bundlePem;
  }

  /** An SVID for a starting instance: its files, and the audit entry to record with its start. */
  async issue(
    subject: IdentitySubject,
    now = new Date(),
  ): Promise<{ files: SvidFiles; vars: Record<string, string>; event: AuditEvent }> {
    const svid = await issueSvid(
      this.deps.ca,
      { trustDomain: this.trustDomain, ...subject },
      this.deps.config.svidTtlMs,
      now,
    );
    this.remember(subject.instance, svid);
    const vars = {
      CAIRN_SPIFFE_ID: svid.spiffeId,
      CAIRN_IDENTITY_HOP: `https://127.0.0.1:${this.deps.config.hopPort}`,
    };
    return { files: this.filesOf(svid), vars, event: issuedEvent(subject, svid, false) };
  }

  /** The serial and expiry of the SVID an instance holds now, when this process knows it. */
  current(instance: string): { spiffeId?: string; serial: string; notAfter: string } | undefined {
    const v = this.validity.get(instance);
    if (!v) return undefined;
    return {
      ...(v.spiffeId ? { spiffeId: v.spiffeId } : {}),
      serial: v.serial,
      notAfter: new Date(v.notAfterMs).toISOString(),
    };
  }

  /** Renews the SVID of every instance past half its lifetime that may keep its identity. */
  async renewDue(instances: InstanceRecord[], now = new Date()): Promise<string[]> {
    const renewed: string[] = [];
    const live = new Set(instances.map((i) => i.id));
    for (const id of this.validity.keys()) if (!live.has(id)) this.validity.delete(id);
    for (const instance of instances) {
      if (!RENEWED_STATES.has(instance.state) || this.deps.isDrifted?.(instance.id)) continue;
      const validity = this.validity.get(instance.id) ?? (await this.readValidity(instance.id));
      if (!validity) continue;
      const halfLife = validity.notBeforeMs + (validity.notAfterMs - validity.notBeforeMs) / 2;
      if (now.getTime() < halfLife) continue;
      if (await this.renew(instance, now)) renewed.push(instance.id);
    }
    return renewed;
  }

  private async renew(instance: InstanceRecord, now: Date): Promise<boolean> {
    const secretsDir = secretsDirOf(this.deps.runtime, instance.id);
    const owner = await svidOwner(secretsDir);
    if (!owner) return false;
    const subject = {
      env: instance.env,
      service: instance.service,
      release: instance.releaseId,
      instance: instance.id,
    };
    const svid = await issueSvid(
      this.deps.ca,
      { trustDomain: this.trustDomain, ...subject },
      this.deps.config.svidTtlMs,
      now,
    );
    await writeSvidFiles(secretsDir, this.filesOf(svid), process.getuid?.() === 0 ? owner : undefined);
    this.remember(instance.id, svid);
    this.deps.record(issuedEvent(subject, svid, true));
    return true;
  }

  /** An instance adopted after a restart: its SVID's validity, read from its files (none: no identity). */
  private async readValidity(id: string): Promise<Validity | undefined> {
    const file = `${svidDirOf(secretsDirOf(this.deps.runtime, id))}/svid.pem`;
    const pem = await readFile(file, 'utf8').catch(() => undefined);
    if (!pem) return undefined;
    const cert = new X509Certificate(pem);
    const validity = {
      spiffeId: cert.subjectAltName?.replace(/^URI:/, ''),
      serial: cert.serialNumber.toLowerCase(),
      // Back-dated by the clock-skew allowance: an adopted instance renews that much early.
      notBeforeMs: Date.parse(cert.validFrom),
      notAfterMs: Date.parse(cert.validTo),
    };
    this.validity.set(id, validity);
    return validity;
  }

  private remember(instance: string, svid: Svid): void {
    this.validity.set(instance, {
      spiffeId: svid.spiffeId,
      serial: svid.serial,
      notBeforeMs: Date.parse(svid.issuedAt),
      notAfterMs: Date.parse(svid.notAfter),
    });
  }

  private filesOf(svid: Svid): SvidFiles {
    return {
      cert: svid.certPem,
      key: svid.keyPem,
      bundle: this.deps.ca.bundlePem,
      hopPort: this.deps.config.hopPort,
    };
  }
}

function issuedEvent(subject: IdentitySubject, svid: Svid, renewal: boolean): AuditEvent {
  return {
    action: SVID_ISSUE_ACTION,
    subject: {
      service: subject.service,
      env: subject.env,
      release: subject.release,
      instance: subject.instance,
    },
    reason: renewal ? 'renewed at half-life' : 'instance start',
    detail: {
      serial: svid.serial,
      spiffeId: svid.spiffeId,
      notAfter: svid.notAfter,
      ...(renewal ? { renewal } : {}),
    },
  };
}
