/**
 * Issues X.509 SVIDs: a fresh P-256 key per instance and a short-lived leaf certificate signed by
 * the workspace CA, following the SPIFFE X.509-SVID profile — the SPIFFE ID is the only URI SAN,
 * not a CA, usable for TLS client and server auth. What the ID deliberately leaves out (which
 * release, which instance) is in the subject: `CN=<instance>, OU=<release>, O=cairn`.
 */
import { randomBytes } from 'node:crypto';
import { spiffeIdOf } from './spiffe-id.js';
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
  const keys = await newKeyPair();
  const serial = randomSerial(randomBytes(16));
  const notAfter = new Date(now.getTime() + ttlMs);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${subject.instance}, OU=${subject.release}, O=cairn`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: EC_SIGN,
    extensions: await leafExtensions(ca, keys.publicKey, spiffeId),
  });
  return {
    spiffeId,
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
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], false),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
  ];
}
