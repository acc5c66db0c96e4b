/** The `cairn-release` cookie: a random key the gateway gives a client so it stays on one release. */

/** Name of the cookie holding a client's sticky key. */
export const STICKY_COOKIE = 'cairn-release';
/** A week: long enough to outlive any canary. */
export const STICKY_COOKIE_MAX_AGE_S = 7 * 24 * 3600;
const KEY_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;

/** The value of cookie `name` in a Cookie header, or undefined. Tolerates spaces and odd pairs. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq !== -1 && eq < end && text.slice(start, eq).trim() === name) return text.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}

/** The sticky key a client sent, if it looks like one the gateway would have set. */
export function stickyKeyFrom(cookieHeader: string | string[] | undefined): string | undefined {
  const value = readCookie(cookieHeader, STICKY_COOKIE);
  return value !== undefined && KEY_SHAPE.test(value) ? value : undefined;
}

/** The Set-Cookie value that gives a client its sticky key. */
export function stickyCookieHeader(key: string, secure: boolean): string {
  const flags = `Path=/; Max-Age=${STICKY_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`;
  return `${STICKY_COOKIE}=${key}; ${flags}${secure ? '; Secure' : ''}`;
}
