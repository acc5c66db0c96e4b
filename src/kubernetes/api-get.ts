/**
 * A plain GET of an apiserver path that answers JSON, with the kubeconfig's credential and TLS
 * trust, on a keep-alive connection: what the control plane uses to read the gateway pods'
 * admin listeners through the apiserver's pod proxy twice a second (the generated client would
 * re-type every answer and open a connection per call).
 */
import http from 'node:http';
import https from 'node:https';

/** TLS and header settings, as the kubeconfig applies them to a request. */
export type RequestSettings = https.RequestOptions;

export class ApiGetter {
  private agent: https.Agent | undefined;

  constructor(
    private readonly server: string,
    /** Fills in the credential (headers, client certificate) and the CA, for each request. */
    private readonly settings: () => Promise<RequestSettings>,
  ) {}

  /** The JSON `path` answers; a status other than 200 or a timeout is thrown, with the status as `code`. */
  async json(path: string, timeoutMs: number): Promise<unknown> {
    // Appended, not resolved: a server behind a proxy has a path of its own (https://host/k8s/clusters/c1).
    const url = new URL(`${this.server.replace(/\/+$/, '')}${path}`);
    const opts = await this.settings();
    const isHttps = url.protocol === 'https:';
    if (isHttps)
      this.agent ??= new https.Agent({
        keepAlive: true,
        maxSockets: 8,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.cert ? { cert: opts.cert } : {}),
        ...(opts.key ? { key: opts.key } : {}),
        ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
      });
    const headers = { ...(opts.headers ?? {}), accept: 'application/json' } as http.OutgoingHttpHeaders;
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const body = await new Promise<string>((resolve, reject) => {
      const req = (isHttps ? https : http).request(
        url,
        { method: 'GET', headers, ...(isHttps ? { agent: this.agent } : {}), timeout: timeoutMs },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(text)
              : reject(
                  Object.assign(new Error(`GET ${url.pathname}: ${res.statusCode}`), {
                    code: res.statusCode,
                    body: text,
                  }),
                ),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
    return JSON.parse(body) as unknown;
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}
