/** Checks for the string formats of the schema. Each returns an error message or undefined. */
import picomatch from 'picomatch';
import { parseDurationMs } from '../lib/index.js';
import type { Format } from './schema-types.js';

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST = /^(\*|(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** A SPIFFE trust domain: lower-case letters, digits, ".", "-" and "_" (SPIFFE-ID spec, section 2.1). */
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const LISTEN_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]|localhost|[a-z0-9.-]+)$/i;

export function checkFormat(format: Format, value: string): string | undefined {
  switch (format) {
    case 'name':
      return NAME.test(value)
        ? undefined
        : `"${value}" is not a valid name: use lower-case letters, digits and "-", starting with a letter`;
    case 'envName':
      return ENV_NAME.test(value)
        ? undefined
        : `"${value}" is not a valid variable name: use letters, digits and "_", not starting with a digit`;
    case 'secretRef':
      if (value.includes('=') || value.includes(':')) {
        return 'secrets lists names only, this looks like a value written inline (value not shown); store it with `cairn secret set NAME` and list just NAME';
      }
      return ENV_NAME.test(value)
        ? undefined
        : 'a secret name uses letters, digits and "_" (value not shown)';
    case 'duration':
      return parseDurationMs(value) === undefined
        ? `"${value}" is not a duration: write milliseconds or a value like 500ms, 10s, 5m`
        : undefined;
    case 'glob':
      return checkGlob(value);
    case 'relPath':
      return checkRelPath(value);
    case 'absPath':
      return value.startsWith('/') && !value.split('/').includes('..')
        ? undefined
        : `"${value}" must be an absolute path without ".."`;
    case 'listen':
      return checkListen(value);
    case 'urlPath':
      return value.startsWith('/') ? undefined : `"${value}" must start with "/"`;
    case 'date':
      return DATE.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : `"${value}" is not a date: write YYYY-MM-DD or an RFC 3339 time`;
    case 'trustDomain':
      return TRUST_DOMAIN.test(value)
        ? undefined
        : `"${value}" is not a SPIFFE trust domain: use lower-case letters, digits, ".", "-" and "_"`;
    case 'host':
      return HOST.test(value) ? undefined : `"${value}" is not a host name, "*" or "*.domain"`;
  }
}

const globVerdicts = new Map<string, string | undefined>();

/** Globs repeat across services; compiling each distinct one once keeps big specs fast. */
function checkGlob(value: string): string | undefined {
  if (!globVerdicts.has(value)) globVerdicts.set(value, compileGlob(value));
  return globVerdicts.get(value);
}

function compileGlob(value: string): string | undefined {
  if (value === '') return 'a glob cannot be empty';
  if (value.startsWith('/')) return `glob "${value}" must be relative to the build context`;
  if (value.split('/').includes('..')) return `glob "${value}" must not leave the build context with ".."`;
  try {
    picomatch.makeRe(value, { strictBrackets: true });
  } catch (error) {
    return `"${value}" is not a valid glob: ${(error as Error).message}`;
  }
  return undefined;
}

function checkRelPath(value: string): string | undefined {
  if (value === '') return 'a path cannot be empty';
  if (value.startsWith('/')) return `"${value}" must be relative to cairn.yaml, not absolute`;
  return undefined;
}

function checkListen(value: string): string | undefined {
  const at = value.lastIndexOf(':');
  if (at <= 0) return `"${value}" must be host:port, for example 127.0.0.1:8080`;
  const host = value.slice(0, at);
  const port = value.slice(at + 1);
  if (!LISTEN_HOST.test(host)) return `"${host}" is not a host to listen on`;
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return `port "${port}" must be a number from 1 to 65535`;
  }
  return undefined;
}
