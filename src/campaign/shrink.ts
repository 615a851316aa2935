// Shrinking past fast-check, as named stages that log and time themselves (after syzkaller
// pkg/repro/repro.go minimizeProg). fast-check shrinks through the arbitrary; these stages work on
// the concrete case only, so they also apply to a case loaded from the corpus:
//
//   revertToBase      try putting each leaf of `scenario` back to its value in `base` (or dropping
//                     a key `base` lacks); keep the revert when the invariant still fails; repeat
//                     until a pass keeps nothing (a fixpoint).
//   verifyOneMinimal  revert each remaining difference alone and record whether the invariant then
//                     holds. All hold = the case is 1-minimal: every difference is needed.

import type { AnyCase } from '../../properties/types.ts';
import { diffValues, fieldDiff, formatPath, getPath, setPath, deletePath, type FieldDiff } from './fieldDiff.ts';
import { SILENT_LOGGER, type Logger } from './log.ts';

/** true = the invariant still fails on this case (the counterexample is kept). */
export type StillFails = (c: AnyCase) => boolean;

export interface ShrinkStageOptions {
  logger?: Logger;
  /** Stop after this many predicate calls (default 5000). */
  maxAttempts?: number;
}

export interface RevertAttempt {
  /** 1-based attempt number. */
  attempt: number;
  /** The difference tried, e.g. 'scenario.vmcb12.control.asid'. */
  path: string;
  kept: boolean;
  /** What the step changed against the previous kept case (empty when not kept). */
  diff: FieldDiff[];
  durationMs: number;
}

export interface RevertToBaseResult {
  stage: 'revert-to-base';
  case: AnyCase;
  attempts: RevertAttempt[];
  kept: number;
  rounds: number;
  /** The attempt cap was hit before the fixpoint. */
  exhausted: boolean;
  durationMs: number;
}

export interface VerifyLine {
  path: string;
  /** The invariant holds once this difference alone is undone (the difference is needed). */
  holds: boolean;
  durationMs: number;
}

export interface VerifyOneMinimalResult {
  stage: 'verify-1-minimal';
  oneMinimal: boolean;
  lines: VerifyLine[];
  durationMs: number;
}

/** The differences between a case's valid base and its scenario, with `scenario.` paths. */
export function caseDifferences(c: AnyCase): FieldDiff[] {
  return diffValues(c.base, c.scenario, ['scenario']);
}

/** A copy of `c` with one difference (from caseDifferences) put back to the base's value. */
export function revertDifference<C extends AnyCase>(c: C, d: FieldDiff): C {
  const next: C = { ...c, scenario: structuredClone(c.scenario) };
  if (d.kind === 'added') {
    deletePath(next, d.path);
  } else {
    // Filling earlier holes keeps an array dense when the base has more elements than the case.
    const last = d.path[d.path.length - 1];
    const parent = getPath(next, d.path.slice(0, -1));
    if (d.kind === 'removed' && Array.isArray(parent) && typeof last === 'number') {
      for (let i = parent.length; i < last; i++) parent.push(structuredClone(getPath(c.base, [...d.path.slice(1, -1), i])));
    }
    setPath(next, d.path, structuredClone(d.old));
  }
  return next;
}

function now(): number {
  return performance.now();
}

export function revertToBase(c0: AnyCase, stillFails: StillFails, opts: ShrinkStageOptions = {}): RevertToBaseResult {
  const log = opts.logger ?? SILENT_LOGGER;
  const maxAttempts = opts.maxAttempts ?? 5000;
  const t0 = now();
  const attempts: RevertAttempt[] = [];
  let cur = c0;
  let kept = 0;
  let rounds = 0;
  let exhausted = false;
  let changed = true;
  while (changed && !exhausted) {
    changed = false;
    rounds++;
    let diffs = caseDifferences(cur);
    for (let i = 0; i < diffs.length; i++) {
      if (attempts.length >= maxAttempts) {
        exhausted = true;
        break;
      }
      const d = diffs[i];
      const ts = now();
      const cand = revertDifference(cur, d);
      const ok = stillFails(cand);
      const step: RevertAttempt = {
        attempt: attempts.length + 1, path: formatPath(d.path), kept: ok,
        diff: ok ? fieldDiff(cur, cand) : [], durationMs: now() - ts,
      };
      attempts.push(step);
      log.debug({ stage: 'revert-to-base', attempt: step.attempt, path: step.path, kept: ok, ms: round(step.durationMs) }, 'shrink step');
      if (ok) {
        cur = cand;
        kept++;
        changed = true;
        // Recompute: the kept difference is gone; array reverts may have moved later indices.
        diffs = caseDifferences(cur);
        i--;
      }
    }
  }
  const durationMs = now() - t0;
  log.info({ stage: 'revert-to-base', kept, tried: attempts.length, rounds, exhausted, ms: round(durationMs) }, 'shrink stage done');
  return { stage: 'revert-to-base', case: cur, attempts, kept, rounds, exhausted, durationMs };
}

export function verifyOneMinimal(c: AnyCase, stillFails: StillFails, opts: ShrinkStageOptions = {}): VerifyOneMinimalResult {
  const log = opts.logger ?? SILENT_LOGGER;
  const t0 = now();
  const lines: VerifyLine[] = [];
  for (const d of caseDifferences(c)) {
    const ts = now();
    const holds = !stillFails(revertDifference(c, d));
    const line: VerifyLine = { path: formatPath(d.path), holds, durationMs: now() - ts };
    lines.push(line);
    log.debug({ stage: 'verify-1-minimal', path: line.path, holds, ms: round(line.durationMs) }, 'shrink check');
  }
  const oneMinimal = lines.every((l) => l.holds);
  const durationMs = now() - t0;
  log.info({ stage: 'verify-1-minimal', differences: lines.length, oneMinimal, ms: round(durationMs) }, 'shrink stage done');
  return { stage: 'verify-1-minimal', oneMinimal, lines, durationMs };
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
