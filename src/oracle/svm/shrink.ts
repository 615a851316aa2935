// Shrinking an unexplained engine/emulator disagreement, batched: every candidate one step
// simpler (a mutation dropped, a variant index lowered to 0, a base choice set to its default)
// runs in one emulator boot, the first that still shows the same disagreement is kept, and the
// loop repeats until no candidate does. The final state is confirmed alone in a fresh emulator.

import { buildOracleSvmCase, type OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { DEFAULT_ORACLE_SVM_CHOICE, type OracleSvmChoice } from '../../arbitraries/_internals/builders/oracleSvmBase.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { OracleCpu } from '../cpu.ts';
import type { SvmAdapter } from './adapters.ts';
import type { SvmComparison } from './compare.ts';
import { runSvmOracleBatch } from './driver.ts';

export interface SvmShrinkStep {
  mutations: string[];
  choice: OracleSvmChoice;
  /** Candidates tried in this round's boot. */
  candidates: number;
}

export interface SvmShrinkResult {
  c: OracleSvmCase;
  cmp: SvmComparison;
  steps: SvmShrinkStep[];
  boots: number;
}

/**
 * What must stay the same for a candidate to count as the same failure: the two verdict kinds and
 * the differing fields; exit codes only when both sides exited (when one side failed VMRUN, the
 * other's exit code is incidental and the snippet may shrink).
 */
export function svmFailureSignature(cmp: SvmComparison): string {
  const both = cmp.engine.kind === 'exit' && cmp.emu.kind === 'exit';
  const code = (v: SvmComparison['engine']): string => (both && v.kind === 'exit' ? `exit:${v.exit_code.toString(16)}` : v.kind);
  return `${code(cmp.engine)}|${code(cmp.emu)}|${cmp.diff.join(',')}`;
}

function parse(m: string): [string, number] {
  const i = m.lastIndexOf(':');
  return [m.slice(0, i), Number(m.slice(i + 1))];
}

function candidates(cpu: OracleCpu, c: OracleSvmCase): OracleSvmCase[] {
  const muts = c.mutations.map(parse);
  const out: OracleSvmCase[] = [];
  muts.forEach((_, j) => out.push(buildOracleSvmCase(cpu, c.choice, muts.filter((__, i) => i !== j))));
  muts.forEach(([id, k], j) => {
    if (k !== 0) out.push(buildOracleSvmCase(cpu, c.choice, muts.map((m, i) => (i === j ? [id, 0] : m))));
  });
  for (const key of Object.keys(DEFAULT_ORACLE_SVM_CHOICE) as (keyof OracleSvmChoice)[]) {
    if ((c.choice[key] ?? DEFAULT_ORACLE_SVM_CHOICE[key]) !== DEFAULT_ORACLE_SVM_CHOICE[key]) out.push(buildOracleSvmCase(cpu, { ...c.choice, [key]: DEFAULT_ORACLE_SVM_CHOICE[key] }, muts));
  }
  return out;
}

export async function shrinkSvmDisagreement(cpu: OracleCpu, start: OracleSvmCase, first: SvmComparison, adapter: SvmAdapter, profile: Profile, jobs: number): Promise<SvmShrinkResult> {
  const sig = svmFailureSignature(first);
  let cur = start;
  let cmp = first;
  let boots = 0;
  const steps: SvmShrinkStep[] = [];
  for (let round = 0; round < 64; round++) {
    const cand = candidates(cpu, cur);
    if (cand.length === 0) break;
    const r = await runSvmOracleBatch(cand, adapter, profile, jobs, { verifyAlone: false });
    boots += r.boots;
    const hit = r.results.find((x) => x.cmp.diff.length > 0 && !x.cmp.explainedBy && svmFailureSignature(x.cmp) === sig);
    if (!hit) break;
    cur = hit.c;
    cmp = hit.cmp;
    steps.push({ mutations: cur.mutations, choice: cur.choice, candidates: cand.length });
  }
  // Confirm the minimal state alone, so it does not rest on state leaked from its batch.
  const alone = await runSvmOracleBatch([cur], adapter, profile, 1, { verifyAlone: true });
  boots += alone.boots;
  const confirmed = alone.results[0].cmp;
  if (confirmed.diff.length > 0 && !confirmed.explainedBy) cmp = confirmed;
  return { c: cur, cmp, steps, boots };
}
