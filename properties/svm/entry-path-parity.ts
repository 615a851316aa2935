// "L2 can only be (re)entered, by VMRUN, RSM or SET_NESTED_STATE, from a vmcb12 snapshot that passes
// the save and control checks" (spec §6.2, §6.4; 898a1751b620, bb00bd9c0862). The same vmcb12 gets
// the same control verdict through all three paths and the same save verdict through VMRUN and RSM.
// Each path's own gates (VMRUN #UD/#GP, RSM's SMRAM conditions, SET_NESTED_STATE's -EINVAL cases)
// are data below, and a case that trips one is not compared.

import { SVM_CHECK_IDS } from '../../src/engine/svm/nested/checks.ts';
import { run, type SvmRunResult } from '../../src/engine/svm/run.ts';
import type { SvmScenario } from '../../src/engine/svm/scenario.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';

const SAVE_IDS = new Set<string>(SVM_CHECK_IDS.slice(0, 12));
const CONTROL_IDS = new Set<string>(SVM_CHECK_IDS.slice(12));

/** Each path's own gates: failing one of these says nothing about the vmcb12 checks. */
export const PATH_GATES = {
  vmrun: ['vmrun-efer-svme-clear', 'vmrun-cr0-pg-clear', 'vmrun-cpl-nonzero', 'vmrun-hsave-unset', 'vmrun-in-smm', 'vmrun-vmcb12-gpa-invalid', 'vmrun-vmcb12-unmappable'],
  set_nested_state: ['nested-state-flags-invalid', 'nested-state-svme-clear-with-flags', 'nested-state-smm-guest-mode', 'nested-state-vmcb-pa-invalid', 'nested-state-l2-cr0-cd-clear-nw-set', 'nested-state-l1-cr0-pg-clear', 'nested-state-l1-cr0-pe-clear', 'nested-state-l1-rflags-vm', 'nested-state-gpat-invalid'],
} as const;

type Verdicts = { save: boolean | null; control: boolean | null };

function verdicts(r: SvmRunResult, saveIds: Set<string>): Verdicts {
  const failed = r.trace.failedChecks();
  if (failed.some((id) => saveIds.has(id))) return { save: false, control: null };
  const saveRan = r.trace.checked.some((c) => saveIds.has(c.id));
  const controlFailed = failed.some((id) => CONTROL_IDS.has(id));
  const controlRan = r.trace.checked.some((c) => CONTROL_IDS.has(c.id));
  return { save: saveRan ? true : null, control: controlRan ? !controlFailed : null };
}

export const property: NestfuzzProperty<SvmCase> = {
  id: 'entry-path-parity',
  area: 'svm',
  title: 'vmcb12 checks give the same verdict through VMRUN, RSM and KVM_SET_NESTED_STATE',
  rationale: 'APM vol.2 15.5.1; KVM nested_svm_check_cached_vmcb12 (svm_leave_smm, 898a1751b620), svm_set_nested_state (nested_vmcb_check_controls), bb00bd9c0862',
  arbitrary: () => svmCase({ entry: 'vmrun' }),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const viaVmrun: SvmScenario = { ...s, entry: 'vmrun', smm: null, nested_state: null, race: null };
    const rv = run(viaVmrun, ctx.profile);
    if (rv.trace.failedChecks().some((id) => (PATH_GATES.vmrun as readonly string[]).includes(id))) return HOLDS;
    if (rv.outcome === '#UD' || rv.outcome === '#GP' || rv.outcome === 'userspace-exit') return HOLDS;
    const v = verdicts(rv, SAVE_IDS);

    // RSM: enter L2 from the valid base, take an SMI, find this vmcb12 in memory at RSM; with and
    // without userspace saving/restoring the vCPU while in SMM.
    const vmrunAccepts = v.save !== false && v.control !== false;
    for (const migrate of [false, true]) {
      const viaRsm: SvmScenario = { ...s, entry: 'rsm', race: null, nested_state: null, smm: { vmrun_vmcb12: c.base.vmcb12, migrate } };
      const rr = run(viaRsm, ctx.profile);
      if (!rr.trace.has('svm_enter_smm')) continue; // RSM path not reachable for this L1
      const rsmChecked = verdicts(rr, SAVE_IDS);
      const how = migrate ? ' after migration in SMM' : '';
      if (vmrunAccepts && rr.outcome === 'triple-fault' && (rsmChecked.save === false || rsmChecked.control === false)) {
        return fail('rsm-rejects-what-vmrun-accepts', `RSM${how} rejects a vmcb12 VMRUN accepts (${rr.trace.failedChecks().join(', ')})`);
      }
      if (!vmrunAccepts && rr.outcome === 'entered') {
        return fail('rsm-accepts-what-vmrun-rejects', `RSM${how} re-entered L2 from a vmcb12 VMRUN rejects (${rv.trace.failedChecks().join(', ')})`);
      }
    }

    // SET_NESTED_STATE: vmcb12's control area, L1's state as the host save area.
    if (v.control === null) return HOLDS; // VMRUN stopped at a save check: no control verdict to compare
    const viaSns: SvmScenario = { ...s, entry: 'set_nested_state', race: null, smm: null, nested_state: { flags: 0x103, gpat: s.vmcb12.save.g_pat } };
    const rs = run(viaSns, ctx.profile);
    const snsFailed = rs.trace.failedChecks();
    if (snsFailed.some((id) => (PATH_GATES.set_nested_state as readonly string[]).includes(id) || SAVE_IDS.has(id))) return HOLDS;
    const snsControlOk = !snsFailed.some((id) => CONTROL_IDS.has(id));
    if (snsControlOk !== v.control) {
      return fail('set-nested-state-control-verdict', `control checks: VMRUN ${v.control ? 'accepts' : 'rejects'}, SET_NESTED_STATE ${snsControlOk ? 'accepts' : 'rejects'} (${[...rv.trace.failedChecks(), ...snsFailed].join(', ')})`);
    }
    return HOLDS;
  },
};
