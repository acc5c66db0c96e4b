/** One HTTP health probe of an instance: GET the health path, 2xx/3xx within the timeout is healthy. */
import { request } from 'node:http';

export function probeHealth(endpoint: string, path: string, timeoutMs: number): Promise<boolean> {
  const [host, port] = endpoint.split(':');
  return new Promise((resolve) => {
    const req = request(
      { host, port: Number(port), path, method: 'GET', timeout: timeoutMs, agent: false },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
