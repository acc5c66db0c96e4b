/** Calls to the control plane through the dashboard's listener: the session cookie, plus the CSRF token on actions. */

export interface ApiError {
  status: number;
  code: string;
  message: string;
  hint?: string;
}

let csrf = '';
let onExpired: () => void = () => {};

export function setSession(token: string, expired: () => void): void {
  csrf = token;
  onExpired = expired;
}

export async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(method !== 'GET' ? { 'x-csrf-token': csrf } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: Omit<ApiError, 'status'> };
  if (!res.ok) {
    if (res.status === 401) onExpired();
    throw {
      status: res.status,
      code: data.error?.code ?? 'error',
      message: data.error?.message ?? res.statusText,
      ...(data.error?.hint ? { hint: data.error.hint } : {}),
    } satisfies ApiError;
  }
  return data as T;
}

export function errorText(error: unknown): string {
  const e = error as Partial<ApiError>;
  return e?.message ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : String(error);
}
