// Invariant: KVM's VMRUN accepts or rejects vmcb12 the way the APM says, up to KVM's documented
// deviations. The engine's verdict for the VMRUN instruction is compared with a declarative model
// of APM vol. 2 §15.5 / §15.5.1 (properties/svm/_apm/vmrun_apm_model.ts) that shares no code with it.

import { svmCase } from '../../src/arbitraries/scenario.ts';
import { run } from '../../src/engine/svm/run.ts';
import { fail, HOLDS, type NestfuzzProperty, type PropertyContext, type SvmCase, type Verdict } from '../types.ts';
import { apmVmrunVerdict, apmVmrunVerdictStrict } from './_apm/vmrun_apm_model.ts';

/**
 * The outcome of the VMRUN instruction itself. `run` goes on to execute L2 and its exit to L1; a
 * triple fault there (say L1's own CR3 cannot be reloaded) is not part of VMRUN's verdict, so the
 * VMRUN result is compared whenever the engine reports one.
 */
function engineVerdict(r: ReturnType<typeof run>): string {
  return r.vmrun ? r.vmrun.outcome : r.outcome;
}

function predicate(c: SvmCase, ctx: PropertyContext): Verdict {
  const s = c.scenario;
  if (s.entry !== 'vmrun') return HOLDS;
  const r = run(s, ctx.profile);
  const engine = engineVerdict(r);
  const model = ctx.strictArch ? apmVmrunVerdictStrict(s.l1, s.vmcb12) : apmVmrunVerdict(s.l1, s.vmcb12);
  // 'silent-noop' is never an architectural answer: always a mismatch.
  if (engine !== 'silent-noop' && engine === model.outcome) return HOLDS;
  // Under --strict-arch, name the KVM deviations that account for the difference (if any).
  const deviations = ctx.strictArch ? apmVmrunVerdict(s.l1, s.vmcb12).deviations : model.deviations;
  return fail('verdict-mismatch', `VMRUN: engine says ${engine}, APM model says ${model.outcome}`, {
    engine,
    final_outcome: r.outcome,
    stage: r.stage,
    apm: model.outcome,
    rules: model.rules,
    deviations,
    failed_checks: r.trace.failedChecks(),
    profile: ctx.profile.name,
    strict_arch: ctx.strictArch,
  });
}

export const property: NestfuzzProperty<SvmCase> = {
  id: 'vmrun-verdict-matches-apm',
  area: 'svm',
  title: 'VMRUN accepts or rejects vmcb12 as the APM says (modulo documented KVM deviations)',
  rationale:
    'AMD APM vol. 2 §15.5 (VMRUN: #UD/#GP gates) and §15.5.1 "Canonicalization and Consistency Checks" ' +
    '(illegal guest state → #VMEXIT(VMEXIT_INVALID)), with §15.20 (event injection), §15.21.4 (V_NMI) and ' +
    '§15.25.3/§15.25.4 (nested paging). KVM implements them in nested_svm_check_permissions, ' +
    'nested_svm_vmrun, nested_vmcb_check_save and nested_vmcb_check_controls (nested.c); its knowing ' +
    'departures are data in KVM_DEVIATIONS and reported under --strict-arch.',
  arbitrary: () => svmCase(),
  predicate,
};

