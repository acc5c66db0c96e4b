/**
 * Who is calling: the workspace's own API token (the CLI, role operator) or a user token made by
 * `cairn token create`. Viewers read; operators also act. The actor is what audit entries name.
 */
export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The token's name: `api` for the workspace token, else the name given to `cairn token create`. */
  name: string;
  role: Role;
  /** Written into audit entries: `api`, `alice@api` (bearer token), `alice@dashboard` (session). */
  actor: string;
}

/** The workspace token, which the CLI sends. */
export const WORKSPACE_PRINCIPAL: Principal = { name: 'api', role: 'operator', actor: 'api' };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** May this role do what `needed` requires? */
export function allows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
