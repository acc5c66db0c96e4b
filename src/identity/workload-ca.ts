/**
 * The workspace's workload CA: a P-256 key in `.cairn/keys/workload-ca.key` (mode 0600) and its
 * self-signed certificate `workload-ca.pem`, the trust bundle every workload and peer verifies
 * SVIDs against. Only `cairn init` creates it: a missing or unreadable CA is an error, never a new
 * one, which would silently orphan every SVID already issued.
 */
import { randomBytes, verify, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, IntegrityError, NotFoundError } from '../lib/index.js';
import {
  type CryptoKey,
  EC_SIGN,
  importSigningKey,
  newKeyPair,
  privateKeyPem,
  randomSerial,
  x509,
} from './x509.js';

export const CA_KEY_FILE = 'workload-ca.key';
export const CA_CERT_FILE = 'workload-ca.pem';
/** The CA outlives any release; rotating it is a deliberate act (a new workspace CA and bundle). */
const CA_LIFETIME_MS = 10 * 365 * 24 * 3_600_000;
const CA_NAME = 'CN=cairn workload CA, O=cairn';
const RESTORE_HINT =
  'restore keys/workload-ca.key and keys/workload-ca.pem from a backup of the workspace; a workspace made before workload identity existed gets its CA with `cairn identity init-ca`';

/** A loaded CA: what issues SVIDs. */
export interface WorkloadCa {
  cert: x509.X509Certificate;
  /** The trust bundle: the CA certificate as PEM. */
  bundlePem: string;
  signingKey: CryptoKey;
}

/** Creates the CA in `keysDir`; refuses when one is there. Returns the bundle (PEM). */
export async function createWorkloadCa(keysDir: string, now: Date = new Date()): Promise<string> {
  const keyFile = join(keysDir, CA_KEY_FILE);
  // Either half present means a CA existed: a lost key is restored from a backup, never replaced here.
  const present = [CA_KEY_FILE, CA_CERT_FILE].find((name) => existsSync(join(keysDir, name)));
  if (present) {
    throw new ConflictError(`creating the workload CA: keys/${present} already exists`, {
      hint: 'a workspace keeps one CA, and every SVID chains to it; restore a lost key from a backup of the workspace',
    });
  }
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(randomBytes(16)),
    name: CA_NAME,
    notBefore: now,
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    keys,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, await privateKeyPem(keys.privateKey), { mode: 0o600, flag: 'wx' });
  const pem = cert.toString('pem');
  await writeFile(join(keysDir, CA_CERT_FILE), `${pem}\n`, { mode: 0o644, flag: 'wx' });
  return `${pem}\n`;
}

/** Loads the CA of `keysDir`: a missing, unreadable or mismatched key is an error with a hint. */
export async function loadWorkloadCa(keysDir: string): Promise<WorkloadCa> {
  const [keyPem, bundlePem] = await Promise.all([
    readCaFile(keysDir, CA_KEY_FILE),
    readCaFile(keysDir, CA_CERT_FILE),
  ]);
  let signingKey: CryptoKey;
  let cert: x509.X509Certificate;
  try {
    signingKey = await importSigningKey(keyPem);
    cert = new x509.X509Certificate(bundlePem);
  } catch (error) {
    throw new IntegrityError(
      `loading the workload CA: keys/${CA_KEY_FILE} or ${CA_CERT_FILE} is not a P-256 PEM`,
      {
        hint: RESTORE_HINT,
        cause: error,
      },
    );
  }
  await assertKeyMatches(signingKey, bundlePem);
  return { cert, bundlePem, signingKey };
}

/** The key must be the certificate's: a wrong key would issue SVIDs no peer accepts. */
async function assertKeyMatches(signingKey: CryptoKey, bundlePem: string): Promise<void> {
  const probe = Buffer.from('cairn workload CA key check');
  const signature = Buffer.from(await webcrypto.subtle.sign(EC_SIGN, signingKey, probe));
  const publicKey = new X509Certificate(bundlePem).publicKey;
  if (!verify('sha256', probe, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new IntegrityError(
      `loading the workload CA: keys/${CA_KEY_FILE} does not belong to ${CA_CERT_FILE}`,
      {
        hint: RESTORE_HINT,
      },
    );
  }
}

async function readCaFile(keysDir: string, name: string): Promise<string> {
  try {
    return await readFile(join(keysDir, name), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    const Err = code === 'ENOENT' ? NotFoundError : IntegrityError;
    throw new Err(`loading the workload CA: keys/${name} ${what}`, { hint: RESTORE_HINT, cause: error });
  }
}
