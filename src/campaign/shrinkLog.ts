// The shrink transcript of one counterexample, as data and as the text stored in
// shrink-logs/<property>/<hash>.log: fast-check's accepted shrinks, then the revert-to-base
// attempts, then the 1-minimality lines, every step a field diff against the step before it.

import type { AnyCase } from '../../properties/types.ts';
import { fieldDiff, formatPath, formatValue, renderFieldDiff, type FieldDiff } from './fieldDiff.ts';
import { round, type RevertToBaseResult, type VerifyOneMinimalResult } from './shrink.ts';

export interface FastCheckStep {
  case: AnyCase;
  /** When the failing call returned, in ms since the pair started. */
  atMs: number;
}

export interface ShrinkTranscript {
  property: string;
  profile: string;
  otherProfile?: string;
  seed: number;
  path: string;
  verdict: { code: string; message: string };
  fastCheck: {
    /** Every failing predicate call in order: [0] the original failure, then each accepted shrink. */
    steps: FastCheckStep[];
    numShrinks: number;
    durationMs: number;
  };
  revert: RevertToBaseResult;
  verify: VerifyOneMinimalResult;
}

/** Shrinks in total: fast-check's accepted shrinks plus kept revert-to-base steps. */
export function shrinkCount(t: Pick<ShrinkTranscript, 'fastCheck' | 'revert'>): number {
  return t.fastCheck.numShrinks + t.revert.kept;
}

/** `{ seed: 123, path: "12:0:3" }`: what to paste back into fc.check/fc.assert. */
export function replayCoordinates(seed: number, path: string): string {
  return `{ seed: ${seed}, path: ${JSON.stringify(path)} }`;
}

function ms(x: number): string {
  return `${round(x).toFixed(2)} ms`;
}

function indent(lines: string[]): string[] {
  return lines.length === 0 ? ['  (no field changes)'] : lines.map((l) => `  ${l}`);
}

/**
 * A fast-check step's diff, without the `base.*` lines that repeat a `scenario.*` line (a new base
 * choice moves both alike); a count line says how many were folded.
 */
function stepLines(diffs: FieldDiff[]): string[] {
  const key = (d: FieldDiff, rest: FieldDiff['path']): string => `${formatPath(rest)}\u0000${formatValue(d.old)}\u0000${formatValue(d.new)}`;
  const inScenario = new Set(diffs.filter((d) => d.path[0] === 'scenario').map((d) => key(d, d.path.slice(1))));
  const shown = diffs.filter((d) => !(d.path[0] === 'base' && inScenario.has(key(d, d.path.slice(1)))));
  const folded = diffs.length - shown.length;
  const lines = renderFieldDiff(shown);
  if (folded > 0) lines.push(`(base: the same ${folded} change(s))`);
  return lines;
}

export function renderShrinkLog(t: ShrinkTranscript): string {
  const out: string[] = [];
  out.push('# nestfuzz shrink log');
  out.push(`property: ${t.property}`);
  out.push(`profile:  ${t.profile}${t.otherProfile ? ` (compared with ${t.otherProfile})` : ''}`);
  out.push(`replay:   ${replayCoordinates(t.seed, t.path)}`);
  out.push(`verdict:  ${t.verdict.code}: ${t.verdict.message}`);
  out.push('');

  const fc = t.fastCheck;
  out.push(`== stage fast-check: ${fc.numShrinks} accepted shrink(s) in ${ms(fc.durationMs)}`);
  fc.steps.forEach((s, i) => {
    if (i === 0) {
      out.push(`step 0: original failure (at ${ms(s.atMs)}), against its valid base`);
      out.push(...indent(renderFieldDiff(fieldDiff(s.case.base, s.case.scenario, ['scenario']))));
    } else {
      out.push(`step ${i}: accepted shrink (+${ms(s.atMs - fc.steps[i - 1].atMs)})`);
      out.push(...indent(stepLines(fieldDiff(fc.steps[i - 1].case, s.case))));
    }
  });
  out.push(`Shrunk ${fc.numShrinks} time(s)`);
  out.push('');

  const r = t.revert;
  out.push(`== stage revert-to-base: kept ${r.kept} of ${r.attempts.length} attempt(s), ${r.rounds} round(s), ${ms(r.durationMs)}${r.exhausted ? ' (attempt cap hit)' : ''}`);
  for (const a of r.attempts) {
    if (a.kept) {
      out.push(`attempt ${a.attempt}: revert ${a.path}: kept, invariant still fails (${ms(a.durationMs)})`);
      out.push(...indent(renderFieldDiff(a.diff)));
    } else {
      out.push(`attempt ${a.attempt}: revert ${a.path}: not kept, needed for the failure (${ms(a.durationMs)})`);
    }
  }
  out.push(`Shrunk ${shrinkCount(t)} time(s) in total (fast-check ${fc.numShrinks}, revert-to-base ${r.kept})`);
  out.push('');

  const v = t.verify;
  out.push(`== stage verify-1-minimal: ${v.lines.length} difference(s) from the base, ${ms(v.durationMs)}`);
  for (const l of v.lines) out.push(`undo ${l.path}: ${l.holds ? 'invariant holds' : 'invariant still fails'}`);
  out.push(`1-minimal: ${v.oneMinimal ? 'yes' : 'no'}`);
  out.push('');

  out.push('== final counterexample against its valid base');
  out.push(...indent(renderFieldDiff(fieldDiff(r.case.base, r.case.scenario, ['scenario']))));
  return `${out.join('\n')}\n`;
}
