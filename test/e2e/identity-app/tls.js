// A service of the gateway-TLS e2e (run.tls): serves HTTPS with its SVID, requires a client
// certificate of the workload CA, and answers with the client's URI SAN (the gateway's SPIFFE ID, or
// the identity hop's) and the caller the hop vouches for.
// It reloads the files when a renewal replaced them. With SVID_FROM=<prefix> it serves the
// certificate and key at <prefix>.pem / <prefix>-key.pem instead: another service's SVID.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';

const from = process.env.SVID_FROM;
const files = {
  cert: from ? `${from}.pem` : process.env.CAIRN_SVID_CERT,
  key: from ? `${from}-key.pem` : process.env.CAIRN_SVID_KEY,
  ca: process.env.CAIRN_TRUST_BUNDLE,
};

/** Cert and key of the same renewal (a renewal between the two reads is read again). */
function credentials() {
  for (;;) {
    const cert = readFileSync(files.cert);
    const key = readFileSync(files.key);
    const a = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
    const b = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (a.equals(b))
      return { cert, key, ca: readFileSync(files.ca), requestCert: true, rejectUnauthorized: true };
  }
}

let served = new X509Certificate(readFileSync(files.cert)).serialNumber;
const server = createServer(credentials(), (req, res) => {
  const peer = req.socket.getPeerCertificate();
  if (req.url === '/healthz') return res.end('ok\n');
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      peer: peer.subjectaltname ?? null,
      caller: req.headers['x-cairn-caller-spiffe-id'] ?? null,
      me: new X509Certificate(readFileSync(files.cert)).subjectAltName,
      serial: served.toLowerCase(),
      pid: process.pid,
    }),
  );
});
server.keepAliveTimeout = 10_000;

let mtime = statSync(files.cert).mtimeMs;
setInterval(() => {
  const now = statSync(files.cert).mtimeMs;
  if (now === mtime) return;
  mtime = now;
  const next = credentials();
  server.setSecureContext(next);
  served = new X509Certificate(next.cert).serialNumber;
}, 200).unref();

server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
