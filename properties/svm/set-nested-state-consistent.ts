// After KVM_SET_NESTED_STATE into guest mode, the hardware must reload all of vmcb02 (clean = 0)
// and AVIC must be inhibited while L2 runs (spec §6.4, §7 row 19; 15003179c74d, 263640149d81).

import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex } from './_lib.ts';

export const property: NestfuzzProperty<SvmCase> = {
  id: 'set-nested-state-consistent',
  area: 'svm',
  title: 'SET_NESTED_STATE into guest mode marks vmcb02 dirty and inhibits AVIC',
  rationale: 'APM vol.2 15.15 (VMCB clean bits: software must clear a bit when it changes the field); KVM svm_set_nested_state; 15003179c74d, 263640149d81',
  arbitrary: () => svmCase({ entry: 'set_nested_state' }),
  predicate(c, ctx): Verdict {
    if (c.scenario.entry !== 'set_nested_state') return HOLDS;
    const r = run(c.scenario, ctx.profile);
    const ev = r.trace.find('kvm_set_nested_state');
    if (!ev || ev.vmcb02_clean === undefined) return HOLDS;
    if (ev.vmcb02_clean !== 0) return fail('vmcb02-not-dirty', `vmcb02.clean = ${hex(ev.vmcb02_clean as number)} after SET_NESTED_STATE`);
    if (ev.host_avic && !ev.avic_inhibited) return fail('avic-not-inhibited', 'AVIC active for L2 after SET_NESTED_STATE');
    return HOLDS;
  },
};
