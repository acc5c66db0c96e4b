/** How an entry reads on one line in `cairn audit log` and `cairn trace`. Pure. */
import type { AuditEntry } from './entry.js';

const short = (digest?: string): string => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '∅');

/** `#index time actor action service@env release instance image before→after — reason` */
export function formatEntryLine(e: AuditEntry): string {
  const s = e.subject;
  const where = s.service && s.env ? `${s.service}@${s.env}` : (s.service ?? s.env);
  const subject = [where, s.release, s.instance, s.image && short(s.image)].filter(Boolean).join(' ');
  const digests = e.digestBefore || e.digestAfter ? ` ${short(e.digestBefore)}→${short(e.digestAfter)}` : '';
  const reason = e.reason ? ` — ${e.reason}` : '';
  return `#${e.index} ${e.time} ${e.actor} ${e.action}${subject ? ` ${subject}` : ''}${digests}${reason}`;
}
