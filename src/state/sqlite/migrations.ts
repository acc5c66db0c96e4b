/**
 * Schema migrations, applied in order and recorded in `PRAGMA user_version`. Append new ones at
 * the end; never edit one that has shipped. Immutability of releases, attestations and events is
 * enforced by triggers, so no code path (nor a stray sqlite3 shell) can quietly rewrite them.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const immutable = (table: string): string => `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} are immutable: write a new row instead'); END;
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} are immutable: rows are never deleted'); END;`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE releases (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  image_digest TEXT NOT NULL,
  config_digest TEXT NOT NULL,
  config_json TEXT NOT NULL,
  source_digest TEXT,
  spec_commit TEXT,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX releases_service ON releases(service, created_at);
${immutable('releases')}

CREATE TABLE attestations (
  release_id TEXT NOT NULL REFERENCES releases(id),
  kind TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (release_id, kind, digest)
) STRICT;
${immutable('attestations')}

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  service TEXT NOT NULL,
  env TEXT NOT NULL,
  from_release TEXT REFERENCES releases(id),
  to_release TEXT NOT NULL REFERENCES releases(id),
  strategy TEXT NOT NULL,
  phase TEXT NOT NULL,
  step INTEGER NOT NULL,
  state_json TEXT NOT NULL,
  reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
) STRICT;
CREATE INDEX deployments_target ON deployments(env, service, created_at);

CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  release_id TEXT NOT NULL REFERENCES releases(id),
  service TEXT NOT NULL,
  env TEXT NOT NULL,
  driver TEXT NOT NULL,
  state TEXT NOT NULL,
  endpoint TEXT,
  handle_json TEXT NOT NULL,
  identity_json TEXT NOT NULL,
  reason TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  stopped_at TEXT
) STRICT;
CREATE INDEX instances_target ON instances(env, service, state);
-- An instance is never re-pointed at another release or service: it is replaced.
CREATE TRIGGER instances_identity_fixed BEFORE UPDATE OF release_id, service, env, identity_json ON instances
WHEN OLD.release_id IS NOT NEW.release_id OR OLD.service IS NOT NEW.service OR OLD.env IS NOT NEW.env
  OR OLD.identity_json IS NOT NEW.identity_json
BEGIN SELECT RAISE(ABORT, 'an instance keeps its release and identity: start a new instance instead'); END;

CREATE TABLE targets (
  env TEXT NOT NULL,
  service TEXT NOT NULL,
  release_id TEXT NOT NULL REFERENCES releases(id),
  previous_release_id TEXT REFERENCES releases(id),
  updated_at TEXT NOT NULL,
  PRIMARY KEY (env, service)
) STRICT;

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  env TEXT,
  service TEXT,
  subject TEXT,
  detail_json TEXT NOT NULL
) STRICT;
${immutable('events')}
`,
  },
  {
    version: 2,
    name: 'audit',
    // The audit log (src/audit): entries are Merkle leaves, checkpoints are signed tree heads.
    // Both are append-only; the subject columns are copies for queries, the entry bytes are the truth.
    sql: `
CREATE TABLE audit_entries (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  entry TEXT NOT NULL,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  service TEXT,
  env TEXT,
  release TEXT,
  instance TEXT,
  image TEXT
) STRICT;
CREATE INDEX audit_entries_service ON audit_entries(service) WHERE service IS NOT NULL;
CREATE INDEX audit_entries_env ON audit_entries(env) WHERE env IS NOT NULL;
CREATE INDEX audit_entries_release ON audit_entries(release) WHERE release IS NOT NULL;
CREATE INDEX audit_entries_instance ON audit_entries(instance) WHERE instance IS NOT NULL;
CREATE INDEX audit_entries_image ON audit_entries(image) WHERE image IS NOT NULL;
${immutable('audit_entries')}

CREATE TABLE audit_checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  size INTEGER NOT NULL,
  root_hash BLOB NOT NULL,
  frontier BLOB NOT NULL,
  note TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
${immutable('audit_checkpoints')}
`,
  },
  {
    version: 3,
    name: 'serving',
    // What should run and how traffic is split, per service and environment: the rollout
    // controller writes it before acting, the reconciler converges instances and gateway pools to
    // it, and a restarted control plane reads it back. Releases map to desired instance counts
    // and gateway weights.
    sql: `
CREATE TABLE serving (
  env TEXT NOT NULL,
  service TEXT NOT NULL,
  replicas_json TEXT NOT NULL,
  weights_json TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (env, service)
) STRICT;
`,
  },
  {
    version: 4,
    name: 'access',
    // Per-user API tokens (`cairn token create`), stored as SHA-256 of the token only, and the
    // dashboard's login sessions (also by hash, so a copy of state.db logs nobody in).
    sql: `
CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE TABLE ui_sessions (
  id_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  role TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  idle_until INTEGER NOT NULL
) STRICT;
`,
  },
];
