/**
 * Issues X.509 SVIDs: a fresh P-256 key per instance and a short-lived leaf certificate signed by
 * the workspace CA, following the SPIFFE X.509-SVID profile — the SPIFFE ID is the only URI SAN,
 * not a CA, usable for TLS client and server auth. What the ID deliberately leaves out (which
 * release, which instance) is in the subject: `CN=<instance>, OU=<release>, O=cairn`.
 */
import { randomBytes } from 'node:crypto';
import { gatewaySpiffeId, spiffeIdOf } from './spiffe-id.js';
import type { WorkloadCa } from './workload-ca.js';
import { type CryptoKey, EC_SIGN, newKeyPair, privateKeyPem, randomSerial, x509 } from './x509.js';

/** Clocks differ a little between hosts; an SVID is valid from a moment before it is made. */
const BACKDATE_MS = 30_000;

/** Who an SVID is for. */
export interface SvidSubject {
  trustDomain: string;
  env: string;
  service: string;
  release: string;
  instance: string;
}

/** An issued SVID: the certificate, its key (PEM, for the instance only) and what the audit records. */
export interface Svid {
  spiffeId: string;
  serial: string;
  /** When it was made; `notBefore` is earlier by the clock-skew allowance. */
  issuedAt: string;
  notBefore: string;
  notAfter: string;
  certPem: string;
  keyPem: string;
}

/** Issues an SVID for `subject`, valid `ttlMs` from `now`. */
export async function issueSvid(
  ca: WorkloadCa,
  subject: SvidSubject,
  ttlMs: number,
  now: Date = new Date(),
): Promise<Svid> {
  const spiffeId = spiffeIdOf(subject.trustDomain, subject.env, subject.service);
  return issueLeaf(
    ca,
    { spiffeId, name: `CN=${subject.instance}, OU=${subject.release}, O=cairn` },
    ttlMs,
    now,
  );
}

/**
 * The certificate of cairn's identity hop: SPIFFE ID `spiffe://<td>/cairn/identity-hop` (two
 * segments below `cairn`, so no workload ID can equal it) and IP SAN 127.0.0.1, so that an ordinary
 * HTTPS client that trusts the bundle accepts the address it dialled.
 */
export function issueHopCertificate(
  ca: WorkloadCa,
  trustDomain: string,
  ttlMs: number,
  now = new Date(),
): Promise<Svid> {
  const spiffeId = `spiffe://${trustDomain}/cairn/identity-hop`;
  return issueLeaf(ca, { spiffeId, name: 'CN=cairn identity hop, O=cairn', ip: '127.0.0.1' }, ttlMs, now);
}

/**
 * The client certificate of an environment's gateway, for instances that serve TLS (`run.tls`):
 * SPIFFE ID `spiffe://<td>/<env>/_gateway`, which no service can have.
 */
export function issueGatewayCertificate(
  ca: WorkloadCa,
  trustDomain: string,
  env: string,
  ttlMs: number,
  now = new Date(),
): Promise<Svid> {
  const spiffeId = gatewaySpiffeId(trustDomain, env);
  return issueLeaf(ca, { spiffeId, name: `CN=cairn gateway ${env}, O=cairn` }, ttlMs, now);
}

async function issueLeaf(
  ca: WorkloadCa,
  leaf: { spiffeId: string; name: string; ip?: string },
  ttlMs: number,
  now: Date,
): Promise<Svid> {
  const keys = await newKeyPair();
  const serial = randomSerial(randomBytes(16));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: leaf.name,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + ttlMs),
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: EC_SIGN,
    extensions: await leafExtensions(ca, keys.publicKey, leaf.spiffeId, leaf.ip),
  });
  return {
    spiffeId: leaf.spiffeId,
    serial,
    issuedAt: now.toISOString(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    certPem: `${cert.toString('pem')}\n`,
    keyPem: await privateKeyPem(keys.privateKey),
  };
}

async function leafExtensions(
  ca: WorkloadCa,
  publicKey: CryptoKey,
  spiffeId: string,
  ip?: string,
): Promise<x509.Extension[]> {
  const names: x509.JsonGeneralName[] = [{ type: 'url', value: spiffeId }];
  if (ip) names.push({ type: 'ip', value: ip });
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension(names, false),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
}
