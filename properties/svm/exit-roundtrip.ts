// After a successful entry and an intercepted L2 instruction, L1 sees that exit code and its own
// state restored as APM 15.6 "#VMEXIT" defines: RIP/RSP/RAX/EFER/CR0 (PE set)/CR3/CR4/RFLAGS from
// the host save, DR7 reset, GIF 0, CPL 0, #DB iff the VMRUN was single-stepped (spec §2.4, §7 rows
// 11, 23, 27a). Holds through SMM too: RSM must not leave SMM state in L1 (37be407b2ce8).

import { CR0, DR7_FIXED_1, EFER, RFLAGS, SEG_ATTR, VEC } from '../../src/arch/svm/defs.ts';
import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex, VMRUN_LEN } from './_lib.ts';

export const property: NestfuzzProperty<SvmCase> = {
  id: 'exit-roundtrip',
  area: 'svm',
  title: 'an intercepted L2 instruction reaches L1 with its exit code and L1 state restored',
  rationale: 'APM vol.2 15.6 (#VMEXIT: host state reloaded, CR0.PE set, DR7 reset, GIF cleared); KVM nested_svm_vmexit; 37be407b2ce8, "queue the #DB intercept in nested_svm_vmexit()", Triple fault if restore host CR3 fails (2026)',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    if (r.l2_exit_code === null) return HOLDS;
    const a = r.after;
    const b = r.before;
    if (a.triple_fault) return HOLDS; // all-or-nothing: a pending triple fault is the other legal end
    if (a.guest_mode || a.current !== '01') return fail('exit-half-done', `guest_mode=${a.guest_mode} current=vmcb${a.current} after #VMEXIT, no triple fault pending`);
    const v12 = a.vmcb12;
    if (!v12) return fail('vmcb12-unmappable', 'vmcb12 cannot be read after the exit, yet no triple fault is pending');
    if (v12.control.exit_code !== r.l2_exit_code) return fail('exit-code', `vmcb12.exit_code = ${hex(v12.control.exit_code)}, L2 exited with ${hex(r.l2_exit_code)}`);
    if (v12.control.event_inj !== 0) return fail('event-inj-not-cleared', `vmcb12.event_inj = ${hex(v12.control.event_inj)}`);
    // vmcb12 gets L2's architectural state at the exit: CR2 as L2 last saw it (d218a0e8a63c), RIP.
    const l2 = r.trace.find('l2_state_at_exit');
    if (l2) {
      if (v12.save.cr2 !== l2.cr2) return fail('l2-cr2', `vmcb12.cr2 = ${hex(v12.save.cr2)}, L2's CR2 was ${hex(l2.cr2 as bigint)}`);
      if (v12.save.rip !== l2.rip) return fail('l2-rip', `vmcb12.rip = ${hex(v12.save.rip)}, L2 exited at ${hex(l2.rip as bigint)}`);
      if (v12.control.exit_int_info !== l2.exit_int_info) return fail('exit-int-info', `vmcb12.exit_int_info = ${hex(v12.control.exit_int_info)}, in flight was ${hex(l2.exit_int_info as number)}`);
    }
    const viaVmrun = c.scenario.entry !== 'set_nested_state';
    const long = (b.regs.efer & EFER.LMA) !== 0n && (c.scenario.l1.cs_attrib & SEG_ATTR.L) !== 0;
    const rip = viaVmrun ? (long ? b.regs.rip + VMRUN_LEN : (b.regs.rip + VMRUN_LEN) & 0xffffffffn) : b.regs.rip;
    const want: Record<string, bigint> = {
      rip, rsp: b.regs.rsp, rax: b.regs.rax, efer: b.regs.efer, cr0: b.regs.cr0 | CR0.PE, cr3: b.regs.cr3, cr4: b.regs.cr4,
      rflags: b.regs.rflags | RFLAGS.FIXED_1, dr7: DR7_FIXED_1,
    };
    for (const [k, w] of Object.entries(want)) {
      const got = a.regs[k as keyof typeof a.regs];
      if (got !== w) return fail(`l1-${k}`, `L1 ${k} = ${hex(got)} after #VMEXIT, want ${hex(w)}`);
    }
    if (a.cpl !== 0) return fail('l1-cpl', `L1 CPL = ${a.cpl}`);
    if (a.gif !== 0) return fail('gif-set', 'GIF = 1 after #VMEXIT');
    const tf = (b.regs.rflags & RFLAGS.TF) !== 0n; // SET_NESTED_STATE restores a VMRUN that was single-stepped too
    const db = a.exception?.vector === VEC.DB;
    if (tf !== db) return fail('db-on-tf', `single-stepped VMRUN: TF=${tf}, #DB ${db ? 'queued' : 'not queued'}`);
    return HOLDS;
  },
};
