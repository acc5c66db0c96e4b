/**
 * The service the runtime tests run: a node HTTP server on PORT that reports what it can see and do
 * from inside its instance (uid, capabilities, writable paths, visible processes, secrets, its
 * configuration file). Tests only.
 */
import type { RunSpec } from '../../spec/index.js';

/** Where the probe image records a configuration file's mount point, and where the probe reads it. */
export const PROBE_CONFIG_FILE = '/etc/probe/config.json';

export const PROBE_SERVER = `
const fs = require('node:fs');
const http = require('node:http');
const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };
const status = () => Object.fromEntries(fs.readFileSync('/proc/self/status', 'utf8').split('\\n')
  .filter((l) => /^(Cap|NoNewPrivs)/.test(l)).map((l) => l.split(/:\\s+/)));
const secret = (name) => { try { return fs.readFileSync((process.env.CAIRN_SECRETS_DIR || '/run/secrets') + '/' + name, 'utf8'); } catch (e) { return e.code; } };
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  const url = new URL(req.url, 'http://x');
  const body = {
    uid: process.getuid(), gid: process.getgid(), greeting: process.env.GREETING, port: process.env.PORT,
    writeRoot: tryWrite('/probe'), writeApp: tryWrite(__dirname + '/probe'), writeTmp: tryWrite('/tmp/probe'),
    writeData: url.searchParams.get('data') ? tryWrite('/app/data/' + url.searchParams.get('data')) : undefined,
    dataFiles: (() => { try { return fs.readdirSync('/app/data').sort(); } catch (e) { return e.code; } })(),
    pids: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length, status: status(),
    secret: url.searchParams.get('secret') ? secret(url.searchParams.get('secret')) : undefined,
    env: url.searchParams.get('env') ? process.env[url.searchParams.get('env')] : undefined,
    config: (() => { try { return fs.readFileSync('${PROBE_CONFIG_FILE}', 'utf8'); } catch (e) { return e.code; } })(),
    writeConfig: url.searchParams.get('config') ? tryWrite('${PROBE_CONFIG_FILE}') : undefined,
  };
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log(JSON.stringify({ msg: 'listening', port: process.env.PORT })));
process.on('SIGTERM', () => { console.log(JSON.stringify({ msg: 'stopping' })); server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); });
`;

/** A run spec with the defaults cairn.yaml would give, overridable. */
export function probeRunSpec(overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    port: 8080,
    replicas: 1,
    health: {
      path: '/healthz',
      intervalMs: 200,
      timeoutMs: 500,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
      startPeriodMs: 0,
    },
    tmpfs: ['/tmp'],
    secrets: [],
    stopGraceMs: 3000,
    ...overrides,
  };
}
