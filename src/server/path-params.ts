/** The values in a request path, percent-decoded; a malformed escape is the client's error (400), not ours (500). */
import { ValidationError } from '../lib/index.js';

/** Decodes one path segment, or refuses a malformed percent-encoding (`%E0%A4%A`, `%ZZ`) as a bad request. */
export function decodePathSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError(`reading the request path ${path}: malformed percent-encoding`, [], {
      hint: 'escape each byte as %XX with two hex digits, of valid UTF-8',
    });
  }
}

/** Refuses a path with a malformed percent-encoding anywhere in it, before it is routed. */
export function checkPathEncoding(path: string): void {
  decodePathSegment(path, path);
}
