// An L2 instruction that L1 intercepts is reflected to L1 and never emulated by L0 (CVE-2020-2732:
// KVM emulated L2 instructions without honouring L1's intercepts, letting L2 reach resources L1
// protects). Checked for INS/OUTS: when L1's I/O permission map / I/O bitmap intercepts the port,
// L1 gets the I/O exit and L0's emulator touches no L2 memory and synthesizes no fault; and for
// every instruction of an L2 stream that L1 intercepts.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { hex } from './_lib.ts';

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'intercepted-never-emulated',
  area: 'mmu',
  title: 'an L2 instruction L1 intercepts is reflected to L1, never emulated by L0',
  rationale: 'APM §15.10 (IOIO intercept) / SDM §26.1.3 (I/O bitmaps); KVM nested_svm_intercept_ioio, nested_vmx_exit_handled_io and 07721feee46b "KVM: nVMX: Don\'t emulate instructions in guest mode" (CVE-2020-2732)',
  arbitrary: () => nestedFaultCase(),
  predicate(c, ctx): Verdict {
    if (c.scenario.program) return programVerdict(c, ctx.profile);
    const io = c.scenario.io;
    if (!io || !io.l1_intercepts) return HOLDS;
    const r = runNestedFault(c.scenario, ctx.profile);
    if (r.io_exit_to_l1 === null) return fail('intercept-not-reflected', `L1 intercepts port ${hex(io.port)} but got no I/O exit`);
    if (r.emulated.length || r.injected_svm || r.injected_vmx || r.l2_fault) {
      return fail('emulated-despite-intercept', `L1 intercepts ${io.kind.toUpperCase()} on port ${hex(io.port)}, yet L0 emulated it (${r.emulated.length} iteration(s) done, outcome ${r.outcome})`,
        { emulated: r.emulated, outcome: r.outcome });
    }
    return HOLDS;
  },
};

/** Streams: the instruction reflected to L1 is the last thing that happens; L0 touches nothing for it. */
function programVerdict(c: NestedFaultCase, p: Profile): Verdict {
  const r = runNestedFault(c.scenario, p);
  const exitStep = r.steps.find((st) => st.by === 'l1' && !st.exception);
  if (!exitStep) return HOLDS;
  const after = r.steps.filter((st) => st.i === exitStep.i && st !== exitStep);
  const touched = after.flatMap((st) => st.emulated);
  if (after.length || r.injected_svm || r.injected_vmx) {
    return fail('emulated-despite-intercept', `instruction ${exitStep.i} (${exitStep.op}) was reflected to L1, yet L0 also ${after.map((st) => st.note).join(', ') || 'injected a nested fault'}${touched.length ? ` (touching ${touched.map(hex).join(', ')})` : ''}`,
      { i: exitStep.i, op: exitStep.op, emulated: touched });
  }
  return HOLDS;
}
