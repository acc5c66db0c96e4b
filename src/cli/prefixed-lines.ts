/**
 * Interleaving the output of several instances: each complete line is written with its instance's
 * id in front; a partial line waits for its end so two instances never share one line. Pure but
 * for the `write` it is given.
 */

/** A writer for one instance: call it with each chunk read; `flush` writes a last partial line. */
export interface PrefixedWriter {
  (text: string): void;
  flush(): void;
}

/**
 * @example
 * ```ts
 * const out = prefixedLines('ins-01', (s) => process.stdout.write(s));
 * out('hello\nwor'); // writes "ins-01 | hello\n"
 * out('ld\n');       // writes "ins-01 | world\n"
 * ```
 */
export function prefixedLines(id: string, write: (text: string) => void): PrefixedWriter {
  let pending = '';
  const writer = ((text: string) => {
    const parts = (pending + text).split('\n');
    pending = parts.pop() ?? '';
    if (parts.length > 0) write(parts.map((line) => `${id} | ${line}\n`).join(''));
  }) as PrefixedWriter;
  writer.flush = () => {
    if (pending !== '') write(`${id} | ${pending}\n`);
    pending = '';
  };
  return writer;
}
