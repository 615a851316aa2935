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
  /** Check ids evaluated, in order, and per evaluation 0 = held, 1 = failed, 2 = dropped by a mutant. */
  readonly checkIds: string[] = [];
  readonly checkResults: number[] = [];
  private failedIdx: number[] = [];

  /** Check ids a mutant profile has removed from the kernel: evaluated, recorded, never failing. */
  constructor(readonly dropped: ReadonlySet<string> = new Set()) {}

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

  /** Every consistency-check evaluation in order (the coverage feed), as records. */
  get checked(): CheckRecord[] {
    return this.checkIds.map((id, i) => (this.checkResults[i] === 2 ? { id, failed: false, dropped: true } : { id, failed: this.checkResults[i] === 1 }));
  }

  failedChecks(): string[] {
    return this.failedIdx.map((i) => this.checkIds[i]);
  }

  /** Called by cc(); kept as parallel arrays so the hot path allocates nothing per check. */
  record(id: string, result: 0 | 1 | 2): void {
    if (result === 1) this.failedIdx.push(this.checkIds.length);
    this.checkIds.push(id);
    this.checkResults.push(result);
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
  if (failed && t.dropped.size && t.dropped.has(id)) {
    t.record(id, 2);
    return false;
  }
  t.record(id, failed ? 1 : 0);
  if (failed) t.emit('kvm_nested_check_failed', { check: id });
  return failed;
}
