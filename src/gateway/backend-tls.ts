/**
 * TLS to backends that serve with their SVID (`run.tls`): the gateway presents its own SVID and
 * accepts the backend only when its certificate chains to the workload CA (the bundle), is valid
 * now, and names exactly the SPIFFE ID of the service the pool belongs to — not another service's
 * SVID, not a self-signed certificate, not an expired one. Plain backends never come here.
 */
import {
  type ConnectionOptions,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
} from 'node:tls';

/** The gateway's client SVID and the bundle, as sent by the control plane (PEM). */
export interface GatewayIdentity {
  /** The gateway's own SPIFFE ID (`spiffe://<td>/<env>/_gateway`). */
  spiffeId: string;
  certPem: string;
  keyPem: string;
  /** The workload CA certificate(s) a backend's SVID must chain to. */
  bundlePem: string;
}

/** A loaded identity: parsed once, used by every new TLS connection. */
export interface BackendIdentity {
  spiffeId: string;
  context: SecureContext;
}

/** Loads an identity into a secure context (throws on a key that does not match its certificate). */
export function loadBackendIdentity(identity: GatewayIdentity): BackendIdentity {
  const context = createSecureContext({
    cert: identity.certPem,
    key: identity.keyPem,
    ca: identity.bundlePem,
    minVersion: 'TLSv1.2',
  });
  return { spiffeId: identity.spiffeId, context };
}

/** Connect options for a backend whose SVID must name `serverId`. */
export function tlsOptions(
  target: { host: string; port: number },
  context: SecureContext,
  serverId: string,
): ConnectionOptions {
  return {
    ...target,
    secureContext: context,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => checkSpiffeId(cert, serverId),
  };
}

/**
 * Request options (node:https) for a client that presents `client`'s certificate and accepts only
 * a server whose SVID names `serverId`: the identity hop's, per request (the health probe, like the
 * gateway, loads the identity once and uses `tlsOptions`).
 */
export function spiffeClientOptions(
  client: { certPem: string; keyPem: string },
  bundlePem: string,
  serverId: string,
): Pick<ConnectionOptions, 'cert' | 'key' | 'ca' | 'checkServerIdentity'> {
  return {
    cert: client.certPem,
    key: client.keyPem,
    ca: bundlePem,
    checkServerIdentity: (_host, cert) => checkSpiffeId(cert, serverId),
  };
}

/**
 * Accepts a certificate (already verified against the bundle by TLS) whose only subject
 * alternative name is the URI `expected`; returns the refusal otherwise.
 */
export function checkSpiffeId(
  cert: Pick<PeerCertificate, 'subjectaltname'>,
  expected: string,
): Error | undefined {
  const names = cert.subjectaltname ?? '';
  if (names === `URI:${expected}`) return undefined;
  return Object.assign(new Error(`backend certificate names ${names || 'nothing'}, not ${expected}`), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
}
