// An L2 VMMCALL exits to L1 iff vmcb12 intercepts it; otherwise it raises #UD in L2 (APM vol.2
// 15.9 / VMMCALL: "#UD if not intercepted"), which reaches L1 as #VMEXIT(0x46) iff vmcb12
// intercepts #UD. It never runs as one of L0's own hypercalls (spec §7 row 26).
//
// KVM: vmmcall_interception queues #UD for L2 (c36991c6f8d2) and vmcb02 keeps L0's VMMCALL
// intercept while L2 runs (33d3617a52f9). Before them an L2 VMMCALL either became a KVM hypercall
// on L0 (kvm_emulate_hypercall with L2's registers, whenever vmcb02 intercepted VMMCALL) or, with
// the intercept cleared, #UDed in hardware and was restarted forever by L0's emulator. The one
// exception KVM keeps, the Hyper-V L2 TLB-flush hypercall L0 handles for L1
// (nested_svm_is_l2_tlb_flush_hcall), is not modelled: no scenario enables Hyper-V.

import { INTERCEPT, VEC, isIntercept } from '../../src/arch/svm/defs.ts';
import { SVM_EXIT } from '../../src/arch/svm/exit_codes.ts';
import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex } from './_lib.ts';

export const property: NestfuzzProperty<SvmCase> = {
  id: 'l2-vmmcall-routing',
  area: 'svm',
  title: 'an L2 VMMCALL exits to L1 iff vmcb12 intercepts it, else #UDs in L2; it is never an L0 hypercall',
  rationale: 'APM vol.2 15.9 and VMMCALL (#UD when not intercepted); KVM vmmcall_interception, recalc_intercepts; c36991c6f8d2 "Raise #UD if unhandled VMMCALL isn\'t intercepted by L1", 33d3617a52f9 "Always intercept VMMCALL when L2 is active"',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    const ctl = r.entry_ctl; // the vmcb12 controls L2 runs under
    if (!ctl) return HOLDS;
    const ev = r.trace.events;
    const at = ev.findIndex((e) => e.ev === 'l2_insn' && e.op === 'vmmcall');
    if (at < 0) return HOLDS;
    const rip = ev[at].rip as bigint;
    const after = ev.slice(at + 1);
    const hc = after.find((e) => e.ev === 'kvm_hypercall_l2');
    if (hc) return fail('vmmcall-ran-as-hypercall', `L2 VMMCALL at ${hex(rip)} ran as L0 hypercall ${hex(hc.nr as bigint)} (RAX ← ${hex(hc.ret as bigint)})`);
    if (after.some((e) => e.ev === 'l2_insn')) return fail('l2-ran-past-vmmcall', `L2 went on past its VMMCALL at ${hex(rip)} without an exit or a #UD`);
    const code = r.l2_exit_code;
    if (isIntercept(ctl.intercepts, INTERCEPT.VMMCALL)) {
      if (code !== BigInt(SVM_EXIT.VMMCALL)) return fail('vmmcall-not-reflected', `vmcb12 intercepts VMMCALL, L2's VMMCALL gave ${code === null ? r.l2?.outcome : `exit ${hex(code)}`}`);
      return HOLDS;
    }
    if (isIntercept(ctl.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.UD)) {
      if (code !== BigInt(SVM_EXIT.EXCP_BASE + VEC.UD)) return fail('ud-not-reflected', `vmcb12 intercepts #UD but not VMMCALL, L2's VMMCALL gave ${code === null ? r.l2?.outcome : `exit ${hex(code)}`}`);
      return HOLDS;
    }
    if (code !== null) return fail('vmmcall-exit-not-intercepted', `L2's VMMCALL gave exit ${hex(code)} though vmcb12 intercepts neither VMMCALL nor #UD`);
    if (!after.some((e) => e.ev === 'kvm_inj_exception_l2' && e.vector === VEC.UD)) {
      return fail('no-ud-in-l2', `L2's VMMCALL at ${hex(rip)} raised no #UD in L2 (${r.l2?.outcome === 'l2-running' ? r.l2.why : r.l2?.outcome})`);
    }
    return HOLDS;
  },
};
