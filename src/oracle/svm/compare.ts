// Engine against emulator for a batch of oracle SVM states: each state's two verdicts, the fields
// that differ, and the listed divergence (if any) that explains the difference.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import type { Profile } from '../../engine/profiles.ts';
import { run } from '../../engine/svm/run.ts';
import type { RawOutcome } from '../raw.ts';
import type { OracleComparison } from '../tally.ts';
import { SVM_DIVERGENCES } from './divergences.ts';
import { l2FirstAccessesVerdict } from './l2Translate.ts';
import { diffSvmVerdicts, emulatorSvmVerdict, engineSvmVerdict, type SvmVerdict } from './verdict.ts';

export type SvmComparison = OracleComparison<SvmVerdict>;

export function compareSvmState(c: OracleSvmCase, raw: RawOutcome, profile: Profile, adapter: string): SvmComparison {
  const r = run(c.scenario, profile);
  const entered = engineSvmVerdict(r);
  // Under an NPT with a hole, L2's first accesses fault before its first instruction runs.
  const engine = entered.kind === 'exit' ? (l2FirstAccessesVerdict(c, r, profile) ?? entered) : entered;
  const emu = emulatorSvmVerdict(raw);
  const engineFailed = r.trace.failedChecks();
  const diff = diffSvmVerdicts(engine, emu);
  let explainedBy: string | null = null;
  if (diff.length > 0) {
    const ctx = { c, engine, emu, diff, engineFailed };
    explainedBy = SVM_DIVERGENCES.find((d) => d.adapters.includes(adapter) && d.explains(ctx))?.id ?? null;
  }
  return { engine, emu, engineFailed, diff, explainedBy };
}
