// The engine's event log: named events with payloads, like KVM tracepoints. A WARN is an event
// (`WARN_ON_ONCE` sites never throw). Consistency checks are recorded through `cc`, which mirrors
// KVM's CC() macro (arch/x86/kvm/x86.h): the failing check's id is the event, and every evaluated
// check id is kept in `checked` so coverage can count passes as well as failures.

export type TraceValue = string | number | bigint | boolean | null | undefined | TraceValue[] | { [k: string]: TraceValue };

export interface TraceEvent {
  ev: string;
  [field: string]: TraceValue;
}

export interface CheckRecord {
  id: string;
  failed: boolean;
  /** The condition held but the profile has the check removed (a mutant). */
  dropped?: boolean;
}

export class Trace {
  readonly events: TraceEvent[] = [];
  /** Check ids a mutant profile has removed from the kernel: evaluated, recorded, never failing. */
  constructor(readonly dropped: ReadonlySet<string> = new Set()) {}

  /** Every consistency-check evaluation in order (the coverage feed). */
  readonly checked: CheckRecord[] = [];

  /** Records an event; the payload object becomes the event (callers pass a fresh literal). */
  emit(ev: string, payload?: Record<string, TraceValue>): void {
    if (!payload) {
      this.events.push({ ev });
      return;
    }
    const e = payload as TraceEvent;
    e.ev = ev;
    this.events.push(e);
  }

  /** WARN_ON / WARN_ON_ONCE: records the site and lets the caller take KVM's fallback. */
  warn(site: string, payload?: Record<string, TraceValue>): void {
    this.emit('WARN', payload ? { site, ...payload } : { site });
  }

  warns(): string[] {
    return this.events.filter((e) => e.ev === 'WARN').map((e) => String(e.site));
  }

  failedChecks(): string[] {
    return this.checked.filter((c) => c.failed).map((c) => c.id);
  }

  has(ev: string): boolean {
    return this.events.some((e) => e.ev === ev);
  }

  find(ev: string): TraceEvent | undefined {
    return this.events.find((e) => e.ev === ev);
  }
}

/**
 * KVM's CC(): evaluate one consistency condition; `failed` = the rule is violated. Returns
 * `failed` so call sites read `if (cc(t, 'asid-zero', c.asid === 0)) return false;`.
 */
export function cc(t: Trace, id: string, failed: boolean): boolean {
  if (failed && t.dropped.has(id)) {
    t.checked.push({ id, failed: false, dropped: true });
    return false;
  }
  t.checked.push({ id, failed });
  if (failed) t.emit('kvm_nested_check_failed', { check: id });
  return failed;
}
