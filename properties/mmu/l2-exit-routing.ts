// Every exit an L2 instruction stream causes reaches L1 exactly when L1's controls ask for it, with
// the exit code / reason the architecture defines, and nothing after it runs; everything else stays
// with L0 or L2. The routing rules here are written from the manuals, sharing no code with the
// engine's routing (src/engine/emulate/routing.ts):
//  - APM vol. 2 §15.9–15.12 and Appendix C: CPUID 0x72, HLT 0x78, INVLPG 0x79, IOIO 0x7b (IOPM),
//    MSR 0x7c (MSRPM; both maps read from L1 memory by _spec/permission_maps.ts), VMMCALL 0x81 (#UD in L2 when not intercepted), CR3 write 0x13, exceptions 0x40+v.
//  - SDM vol. 3C §26.1: CPUID (10) and VMCALL (18) always exit; HLT (12), INVLPG (14), CR3 load (28),
//    I/O (30, I/O bitmaps), RDMSR/WRMSR (31/32, MSR bitmaps) by control; §25.2: an exception exits
//    (reason 0) by the exception bitmap, a #PF by bit 14 together with PFEC mask / match.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import type { L1Controls, L2Op } from '../../src/engine/emulate/l2_insn.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import type { PhysMem } from '../../src/engine/mmu/types.ts';
import { ioExitsToL1, msrExitsToL1 } from './_spec/permission_maps.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';

type Flavour = 'svm' | 'vmx';

/** The exit code (SVM) / basic exit reason (VMX) L1 must get for the instruction, or null if L1 does not intercept it. */
function architecturalInsnExit(f: Flavour, op: L2Op, l1: L1Controls, mem: PhysMem): number | null {
  const svm = f === 'svm';
  const when = (cond: boolean, svmCode: number, vmxReason: number): number | null => (cond ? (svm ? svmCode : vmxReason) : null);
  switch (op.op) {
    case 'cpuid': return when(!svm || l1.cpuid, 0x72, 10);
    case 'hypercall': return when(!svm || l1.hypercall, 0x81, 18);
    case 'hlt': return when(l1.hlt, 0x78, 12);
    case 'invlpg': return when(l1.invlpg, 0x79, 14);
    case 'mov-cr3': return when(l1.cr3_load, 0x13, 28);
    case 'in': case 'out': case 'ins': case 'outs': return when(ioExitsToL1(f, l1, mem, op.port, op.size), 0x7b, 30);
    case 'rdmsr': return when(msrExitsToL1(f, l1, mem, op.msr, false), 0x7c, 31);
    case 'wrmsr': return when(msrExitsToL1(f, l1, mem, op.msr, true), 0x7c, 32);
    default: return null;
  }
}

/** Whether L1 intercepts the exception (SVM exception intercepts; VMX exception bitmap with the #PF rule). */
function architecturalExceptionExit(f: Flavour, l1: L1Controls, vector: number, error_code: bigint): boolean {
  const bit = ((l1.exception_bitmap >>> vector) & 1) === 1;
  if (f === 'svm' || vector !== 14) return bit;
  const matches = (Number(error_code & 0xffffn) & l1.pfec_mask) === l1.pfec_match;
  return bit ? matches : !matches;
}

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'l2-exit-routing',
  area: 'mmu',
  title: 'an L2 instruction or exception exits to L1 exactly when L1 intercepts it, with the architectural exit code, and nothing after it runs',
  rationale: 'APM vol. 2 §15.9–15.12, Appendix C; SDM vol. 3C §25.2, §26.1; KVM nested_svm_intercept / nested_svm_exit_handled, nested_vmx_l1_wants_exit, nested_vmx_is_page_fault_vmexit',
  arbitrary: () => nestedFaultCase({ programs: 'only' }),
  predicate(c, ctx): Verdict {
    const prog = c.scenario.program;
    if (!prog) return HOLDS;
    const f = c.scenario.flavour;
    const r = runNestedFault(c.scenario, ctx.profile);
    const code = (): number => Number(r.l1_exit?.svm?.exit_code ?? BigInt(r.l1_exit?.vmx?.reason ?? -1));
    for (let k = 0; k < r.steps.length; k++) {
      const st = r.steps[k];
      const op = prog.ops[st.i];
      const lastStep = k === r.steps.length - 1;
      const want = architecturalInsnExit(f, op, prog.l1, c.scenario.mem);
      if (want !== null && !st.exception) {
        if (st.by !== 'l1') return fail('intercept-missed', `instruction ${st.i} (${op.op}) is intercepted by L1 (exit ${want.toString(16)}) but was completed by ${st.by}`, { i: st.i, op: op.op });
        if (code() !== want) return fail('wrong-exit-code', `instruction ${st.i} (${op.op}) reached L1 as exit ${code().toString(16)}, expected ${want.toString(16)}`, { i: st.i, got: code(), want });
      }
      if (st.by === 'l1' && !st.exception && want === null) {
        return fail('spurious-exit', `instruction ${st.i} (${op.op}) was reflected to L1, which does not intercept it`, { i: st.i, op: op.op });
      }
      if (st.exception) {
        const wantExit = architecturalExceptionExit(f, prog.l1, st.exception.vector, st.exception.error_code);
        const toL1 = st.by === 'l1';
        if (wantExit !== toL1) {
          return fail('exception-misrouted', `vector ${st.exception.vector} (error code 0x${st.exception.error_code.toString(16)}) of instruction ${st.i} went to ${toL1 ? 'L1' : 'L2'}; L1's controls say ${wantExit ? 'L1' : 'L2'} (bitmap 0x${prog.l1.exception_bitmap.toString(16)}, PFEC mask 0x${prog.l1.pfec_mask.toString(16)} match 0x${prog.l1.pfec_match.toString(16)})`,
            { vector: st.exception.vector, to: toL1 ? 'l1' : 'l2' });
        }
        const wantCode = f === 'svm' ? 0x40 + st.exception.vector : 0;
        if (toL1 && code() !== wantCode) return fail('wrong-exit-code', `vector ${st.exception.vector} reached L1 as exit ${code().toString(16)}, expected ${wantCode.toString(16)}`, { got: code(), want: wantCode });
      }
      if (st.by === 'l1' && !lastStep && r.steps[k + 1].i !== st.i) {
        return fail('ran-past-exit', `instruction ${r.steps[k + 1].i} ran after instruction ${st.i} exited to L1`, { i: st.i });
      }
    }
    return HOLDS;
  },
};
