// GIF (APM 15.17): right after a successful VMRUN or RSM into L2, L1's GIF is 1; every #VMEXIT to
// L1, VMEXIT_INVALID included, leaves it 0. With nested vGIF, vmcb01's V_GIF is L1's GIF
// (get_vgif_vmcb). Fix: f85a6ce06e4a "KVM: nSVM: Clear GIF on nested #VMEXIT(INVALID)".

import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';

export const property: NestfuzzProperty<SvmCase> = {
  id: 'gif-semantics',
  area: 'svm',
  title: 'L1 GIF is 1 while L2 runs and 0 after every #VMEXIT, INVALID included',
  rationale: 'APM vol.2 15.17 (VMRUN sets GIF, #VMEXIT clears it), 15.5.1; KVM svm_set_gif / get_vgif_vmcb, nested_svm_vmexit, f85a6ce06e4a',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    if (r.entry.guest_mode && r.outcome === 'entered' && c.scenario.entry !== 'set_nested_state' && r.entry.gif !== 1) {
      return fail('gif-clear-in-l2', `L1 GIF = ${r.entry.gif} right after entering L2 via ${c.scenario.entry}`);
    }
    const exited = r.outcome === 'vmexit-invalid' || (r.l2_exit_code !== null && !r.after.guest_mode);
    if (exited && r.after.gif !== 0) {
      return fail('gif-set-after-vmexit', `L1 GIF = 1 after #VMEXIT (${r.outcome === 'vmexit-invalid' ? 'VMEXIT_INVALID' : `exit 0x${r.l2_exit_code!.toString(16)}`})`);
    }
    return HOLDS;
  },
};
