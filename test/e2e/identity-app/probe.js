// A service of the identity e2e: answers who called it (the header only cairn's hop sets), calls
// another service through the hop with its own SVID, and shows its current SVID.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request } from 'node:https';

/** Cert and key of the same renewal: a renewal between the two reads is read again. */
function credentials() {
  for (;;) {
    const cert = readFileSync(process.env.CAIRN_SVID_CERT);
    const key = readFileSync(process.env.CAIRN_SVID_KEY);
    const a = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
    const b = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (a.equals(b)) return { cert, key, ca: readFileSync(process.env.CAIRN_TRUST_BUNDLE) };
  }
}

// The hop is authenticated by its SPIFFE ID (as SPIFFE libraries do), not by the address dialled:
// an isolated instance reaches it at its host address.
const HOP_ID = `URI:spiffe://${process.env.CAIRN_SPIFFE_ID.split('/')[2]}/cairn/identity-hop`;
const checkServerIdentity = (_host, cert) =>
  cert.subjectaltname?.split(', ').includes(HOP_ID)
    ? undefined
    : new Error(`${cert.subjectaltname} is not the identity hop`);

function call(path, res) {
  const hop = new URL(process.env.CAIRN_IDENTITY_HOP);
  const req = request(
    { host: hop.hostname, port: hop.port, path, ...credentials(), checkServerIdentity, agent: false },
    (answer) => {
      let body = '';
      answer.on('data', (c) => (body += c));
      answer.on('end', () => res.end(JSON.stringify({ status: answer.statusCode, body })));
    },
  );
  req.on('error', (e) => res.end(JSON.stringify({ status: 599, body: e.message })));
  req.end();
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/healthz') return res.end('ok\n');
  if (url.pathname === '/whoami')
    return res.end(
      JSON.stringify({
        me: process.env.CAIRN_SPIFFE_ID,
        caller: req.headers['x-cairn-caller-spiffe-id'] ?? null,
      }),
    );
  if (url.pathname === '/call') return call(`/${url.searchParams.get('to')}/whoami`, res);
  if (url.pathname === '/svid') {
    const cert = readFileSync(process.env.CAIRN_SVID_CERT, 'utf8');
    return res.end(
      JSON.stringify({
        pid: process.pid,
        pem: cert,
        serial: new X509Certificate(cert).serialNumber.toLowerCase(),
      }),
    );
  }
  res.writeHead(404).end();
});
server.listen(Number(process.env.PORT), process.env.HOST);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
