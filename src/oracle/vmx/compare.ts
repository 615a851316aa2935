// Engine against Bochs for one oracle VMX state: the two verdicts, the fields that differ, and the
// listed divergence (if any) that explains the difference.

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import type { Profile } from '../../engine/profiles.ts';
import { runVmx } from '../../engine/vmx/run.ts';
import type { VmxRawOutcome } from '../raw.ts';
import type { OracleComparison } from '../tally.ts';
import { VMX_DIVERGENCES } from './divergences.ts';
import { diffVmxVerdicts, emulatorVmxVerdict, engineVmxVerdict, type VmxVerdict } from './verdict.ts';

export type VmxComparison = OracleComparison<VmxVerdict>;

export function compareVmxState(c: OracleVmxCase, raw: VmxRawOutcome, profile: Profile, adapter: string): VmxComparison {
  const r = runVmx(c.scenario, profile);
  const engine = engineVmxVerdict(r);
  const emu = emulatorVmxVerdict(raw);
  const engineFailed = r.trace.failedChecks();
  const diff = diffVmxVerdicts(engine, emu);
  let explainedBy: string | null = null;
  if (diff.length > 0) {
    const ctx = { c, engine, emu, diff, engineFailed, hardwareRule: r.hardware?.rule ?? null };
    explainedBy = VMX_DIVERGENCES.find((d) => d.adapters.includes(adapter) && d.explains(ctx))?.id ?? null;
  }
  return { engine, emu, engineFailed, diff, explainedBy };
}
