/**
 * An app with two real npm packages that have real advisories — minimist 1.2.5 (critical) and
 * lodash 4.17.20 (high) — as package.json and package-lock.json, for scan gates to find.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PACKAGE = {
  name: 'hello',
  version: '1.0.0',
  private: true,
  type: 'module',
  dependencies: { minimist: '1.2.5', lodash: '4.17.20' },
};
export const LOCK = {
  name: 'hello',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': PACKAGE,
    'node_modules/lodash': {
      version: '4.17.20',
      resolved: 'https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz',
      integrity:
        'sha512-PlhdFcillOINfeV7Ni6oF1TAEayyZBoZ8bcshTHqOYJYlrqzRK5hagpagky5o4HfCzzd1TRkXPMFq6cKk9rGmA==',
      license: 'MIT',
    },
    'node_modules/minimist': {
      version: '1.2.5',
      resolved: 'https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz',
      integrity:
        'sha512-FM9nNUYrRBAELZQT3xeZQ7fmMOBg6nWNmJKTcgsJeaLstP/UODVpGsr5OhXhhXg6f+qtJ8uiZ+PUxkDWcgIXLw==',
      license: 'MIT',
    },
  },
};

/** Writes them into the app folder of a workspace copy. */
export function writeVulnerableDeps(dir: string): void {
  writeFileSync(join(dir, 'app/package.json'), JSON.stringify(PACKAGE, null, 2));
  writeFileSync(join(dir, 'app/package-lock.json'), JSON.stringify(LOCK, null, 2));
}
