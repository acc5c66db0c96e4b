/**
 * Per-user API tokens in state.db. A token is shown once at creation; only its SHA-256 is kept
 * (the token carries 256 random bits, so a plain hash is enough and lookups stay one indexed read).
 */
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { ConflictError, NotFoundError, ValidationError } from '../lib/index.js';
import type { Principal, Role } from './principal.js';

const TOKEN_PREFIX = 'cairn_';
const NAME = /^[a-z][a-z0-9._-]{0,62}$/;

export interface TokenInfo {
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TokenStore {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates a token for `name`; returns it (the only time it can be read). */
  create(name: string, role: Role, createdBy: string): { token: string; info: TokenInfo } {
    if (!NAME.test(name) || name === 'api') {
      throw new ValidationError(`creating a token: "${name}" is not a usable name`, [], {
        hint: 'use lower-case letters, digits, ".", "_" or "-", starting with a letter (not "api")',
      });
    }
    if (this.db.prepare('SELECT 1 FROM api_tokens WHERE name = ?').get(name)) {
      throw new ConflictError(`creating a token: "${name}" already has one`, {
        hint: `revoke it first with \`cairn token revoke ${name}\``,
      });
    }
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const info: TokenInfo = { name, role, createdAt: this.now().toISOString(), createdBy };
    this.db
      .prepare(
        'INSERT INTO api_tokens (name, role, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)',
      )
      .run(name, role, tokenHash(token), info.createdAt, createdBy);
    return { token, info };
  }

  list(): TokenInfo[] {
    const rows = this.db
      .prepare('SELECT name, role, created_at, created_by FROM api_tokens ORDER BY name')
      .all() as Array<{ name: string; role: Role; created_at: string; created_by: string }>;
    return rows.map((r) => ({
      name: r.name,
      role: r.role,
      createdAt: r.created_at,
      createdBy: r.created_by,
    }));
  }

  /** Deletes the token and every dashboard session it opened. */
  revoke(name: string): void {
    const gone = this.db.prepare('DELETE FROM api_tokens WHERE name = ?').run(name).changes;
    if (!gone) {
      throw new NotFoundError(`revoking the token of "${name}": there is none`, {
        hint: '`cairn token list` shows the tokens',
      });
    }
    this.db.prepare('DELETE FROM ui_sessions WHERE user = ?').run(name);
  }

  /** The principal a bearer token stands for (actor `NAME@api`; a dashboard session names its own), or undefined. */
  verify(token: string): Principal | undefined {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = this.db
      .prepare('SELECT name, role FROM api_tokens WHERE token_hash = ?')
      .get(tokenHash(token)) as { name: string; role: Role } | undefined;
    return row ? { name: row.name, role: row.role, actor: `${row.name}@api` } : undefined;
  }
}
