/**
 * Checks a presented certificate as an X.509 SVID of this workspace, with node:crypto (not the
 * library that made it): signed by the bundle's CA, valid now, not a CA, one URI SAN that is a
 * cairn SPIFFE ID of the expected trust domain. Returns who it is, or why it is refused.
 */
import { X509Certificate } from 'node:crypto';
import { parseSpiffeId } from './spiffe-id.js';
import { x509 } from './x509.js';

/** A verified SVID: the workload it names and the copy it was issued to. */
export interface VerifiedSvid {
  spiffeId: string;
  env: string;
  service: string;
  serial: string;
  release?: string;
  instance?: string;
  notAfter: string;
}

export type SvidVerdict = { ok: true; svid: VerifiedSvid } | { ok: false; reason: string };

/** Verifies `cert` (DER or PEM) against the CA certificate `bundle` for `trustDomain` at `now`. */
export function verifySvid(
  cert: Buffer | string,
  bundle: X509Certificate,
  trustDomain: string,
  now: Date,
): SvidVerdict {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    return { ok: false, reason: 'not an X.509 certificate' };
  }
  if (!leaf.checkIssued(bundle) || !leaf.verify(bundle.publicKey)) {
    return { ok: false, reason: 'not signed by the workload CA' };
  }
  if (leaf.ca) return { ok: false, reason: 'a CA certificate is not an SVID' };
  if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) {
    return {
      ok: false,
      reason: `expired or not yet valid (valid until ${new Date(leaf.validTo).toISOString()})`,
    };
  }
  const uris = uriSans(leaf);
  if (uris.length !== 1) return { ok: false, reason: `has ${uris.length} URI SANs, an SVID has exactly one` };
  const id = parseSpiffeId(uris[0]!);
  if (!id) return { ok: false, reason: `${uris[0]} is not a cairn SPIFFE ID` };
  if (id.trustDomain !== trustDomain)
    return { ok: false, reason: `trust domain ${id.trustDomain} is not ${trustDomain}` };
  const subject = new x509.Name(leaf.subject.split('\n').join(', '));
  return {
    ok: true,
    svid: {
      spiffeId: uris[0]!,
      env: id.env,
      service: id.service,
      serial: leaf.serialNumber.toLowerCase(),
      ...optional('release', subject.getField('OU')[0]),
      ...optional('instance', subject.getField('CN')[0]),
      notAfter: new Date(leaf.validTo).toISOString(),
    },
  };
}

function uriSans(leaf: X509Certificate): string[] {
  const ext = new x509.X509Certificate(leaf.raw).getExtension(x509.SubjectAlternativeNameExtension);
  return (ext?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value);
}

const optional = (key: string, value: string | undefined) => (value ? { [key]: value } : {});
