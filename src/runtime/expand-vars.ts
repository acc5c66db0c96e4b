/**
 * `$(VAR)` references in an instance's arguments, expanded as Kubernetes expands a container's
 * `command` and `args`: `$(NAME)` becomes the value of a defined variable, `$$` is a literal `$`
 * (so `$$(PORT)` stays `$(PORT)`), and a reference to a variable that is not defined is left as
 * written. No shell is involved: an image needs none to be told its port. Pure.
 */

/**
 * Expands `$(NAME)` in `text` from `vars`.
 *
 * @example
 * ```ts
 * expandVars('--port=$(PORT)', { PORT: '3000' }); // '--port=3000'
 * expandVars('$$(PORT) $(NOPE)', { PORT: '3000' }); // '$(PORT) $(NOPE)'
 * ```
 */
export function expandVars(text: string, vars: Readonly<Record<string, string>>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '$' || i + 1 >= text.length) {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1]!;
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    const close = next === '(' ? text.indexOf(')', i + 2) : -1;
    if (close < 0) {
      out += c;
      i++;
      continue;
    }
    const name = text.slice(i + 2, close);
    out += Object.hasOwn(vars, name) ? vars[name] : `$(${name})`;
    i = close + 1;
  }
  return out;
}

/** `NAME=value` lines as a map (the first `=` splits). */
export function envMap(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of env) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
