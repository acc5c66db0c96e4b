// hello: the example service cairn builds and deploys. No dependencies.
// Its behaviour comes only from the configuration file baked into its image, so each variant
// (v1, v2, the bad v3) is a different image, never a switch flipped at run time.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const CONFIG_PATH = process.env.HELLO_CONFIG ?? '/etc/hello/config.json';
const config = JSON.parse(readFileSync(CONFIG_PATH, 'utf8'));
const { version, message = 'hello', failEvery = 0, delayMs = 0 } = config;
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
let served = 0;

// The API token is injected at start by cairn (run.secrets), never baked in: /run/secrets/API_TOKEN.
const SECRETS_DIR = process.env.CAIRN_SECRETS_DIR ?? '/run/secrets';
const readToken = () => {
  try {
    return readFileSync(`${SECRETS_DIR}/API_TOKEN`, 'utf8');
  } catch {
    return undefined;
  }
};
const apiToken = readToken();

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (req.url === '/admin/stats') {
    const ok = apiToken !== undefined && req.headers.authorization === `Bearer ${apiToken}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { version, served } : { error: 'a valid API token is required' }) + '\n');
    return;
  }
  served += 1;
  const fail = failEvery > 0 && served % failEvery === 0;
  const reply = () => {
    if (fail) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version, error: 'simulated failure' }) + '\n');
      return;
    }
    const greeting = process.env.GREETING ?? message;
    res.writeHead(200, { 'content-type': 'application/json', 'x-hello-version': version });
    res.end(JSON.stringify({ version, message: greeting }) + '\n');
  };
  if (delayMs > 0) setTimeout(reply, delayMs);
  else reply();
});

server.keepAliveTimeout = 5000;
server.listen(port, host, () => {
  console.log(JSON.stringify({ msg: 'listening', version, host, port }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    console.log(JSON.stringify({ msg: 'stopping', signal, served }));
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
