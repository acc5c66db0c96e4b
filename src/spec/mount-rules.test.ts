import { describe, expect, it } from 'vitest';
import { parseSpec } from './parse.js';

const spec = (run: string, build = '') => `project: p
services:
  web:
    build: { context: ./app, entrypoint: [node, server.js]${build} }
    run: { port: 8080, ${run} }
environments:
  dev: { gateway: { listen: "127.0.0.1:9000" } }
`;
const at = (text: string) =>
  parseSpec(text, 'cairn.yaml', (rel) =>
    rel === './app' ? 'dir' : rel.startsWith('./app/') ? undefined : 'file',
  ).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);

describe('run.tmpfs and run.volumes', () => {
  it('accepts separate folders beside the app', () => {
    expect(at(spec('tmpfs: [/tmp, /app/cache], volumes: [{ name: db, path: /app/data }]'))).toEqual([]);
  });

  it('reports overlaps, system paths and hidden app files at file:line:column', () => {
    const out = at(
      spec(
        'tmpfs: [/tmp, /tmp/x, /proc/foo, /app, /etc/app], volumes: [{ name: db, path: /data }, { name: db, path: /data/sub }, { name: Bad_Name, path: /v/ }]',
        ', files: { /etc/app/config.json: ./c.json }',
      ),
    );
    expect(out).toEqual([
      '5:38 tmpfs /tmp/x overlaps tmpfs /tmp; give each mount its own folder',
      '5:46 tmpfs /proc/foo would cover /proc, which cairn mounts itself',
      "5:57 tmpfs /app would hide the app's files in /app (build.workdir); mount a folder beside or below it, e.g. /app/data",
      '5:63 tmpfs /etc/app would hide /etc/app/config.json (build.files); mount another folder or move the file',
      expect.stringMatching(/^5:\d+ volume "db" is listed twice/),
      expect.stringMatching(/^5:\d+ volume \/data\/sub overlaps volume \/data/),
      expect.stringMatching(/^5:150 services.web.run.volumes\[2\].name: "Bad_Name" is not a valid name/),
      expect.stringMatching(/^5:\d+ "\/v\/" is not a clean path/),
    ]);
  });

  it('refuses the root', () => {
    expect(at(spec('tmpfs: [/]'))).toEqual([
      '5:32 the root filesystem stays read-only; name a folder such as /tmp',
    ]);
  });

  it('warns when the build context has a file where a mount folder must be', () => {
    const diagnostics = parseSpec(spec('volumes: [{ name: db, path: /app/data/db }]'), 'cairn.yaml', (rel) =>
      rel === './app' ? 'dir' : rel === './app/data' ? 'file' : undefined,
    ).diagnostics.map((d) => `${d.severity} ${d.message}`);
    expect(diagnostics).toEqual([
      'warning volume /app/data/db needs a folder where build.context has the file ./app/data: an image with it cannot start; rename the file, exclude it, or mount elsewhere',
    ]);
  });
});
