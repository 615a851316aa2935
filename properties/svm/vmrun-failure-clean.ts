// After a failed VMRUN, the before/after state differs only in the write set the spec gives for
// that profile and failure point (APM 15.5.1: "VMRUN ... #VMEXIT with VMEXIT_INVALID"; spec §2.2,
// §2.4, §2.5, §7 rows 7, 9, 10, 11, 27).

import { CR0, RFLAGS, SEG_ATTR, EFER, VEC } from '../../src/arch/svm/defs.ts';
import { SVM_EXIT_ERR } from '../../src/arch/svm/exit_codes.ts';
import { has } from '../../src/engine/profiles.ts';
import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { FAILURE_CLEAN_DEVIATIONS } from './_data/known.ts';
import { hex, regChanges, vmcbChanges, VMRUN_LEN } from './_lib.ts';

/** vmcb12 fields #VMEXIT(INVALID) writes on every profile. */
const INVALID_WRITES = ['vmcb12.control.exit_code', 'vmcb12.control.exit_info_1', 'vmcb12.control.exit_info_2', 'vmcb12.control.event_inj', 'vmcb12.control.event_inj_err'];
/** …and what the full nested_svm_vmexit adds on kvm-next's late path. */
const FULL_VMEXIT_CONTROL = ['vmcb12.control.int_state', 'vmcb12.control.next_rip', 'vmcb12.control.int_ctl'];

export const property: NestfuzzProperty<SvmCase> = {
  id: 'vmrun-failure-clean',
  area: 'svm',
  title: 'every VMRUN failure leaves GIF clear, L1 state intact and only the specified vmcb12 fields written',
  rationale: 'APM vol.2 15.5.1 (VMEXIT_INVALID); KVM nested_svm_vmrun / nested_svm_copy_vmcb12_to_cache / nested_svm_vmexit; fixes f85a6ce06e4a (GIF), c0095cef7303 (EVENTINJ), de6d8562a9cf (NMI/soft-IRQ tracking), u64 exit_code series, Triple-fault-on-#VMEXIT (2026)',
  arbitrary: () => svmCase({ entry: 'vmrun' }),
  predicate(c, ctx): Verdict {
    if (c.scenario.entry !== 'vmrun') return HOLDS;
    const r = run(c.scenario, ctx.profile);
    if (r.outcome !== 'vmexit-invalid' && !(r.outcome === 'triple-fault' && r.stage)) return HOLDS;
    const unified = has(ctx.profile, 'svm-unified-vmrun-failure');
    const late = r.stage === 'late';
    const b = r.before;
    const a = r.after;
    const v12 = a.vmcb12;
    if (!v12) return fail('vmcb12-unmappable', 'vmcb12 cannot be read after the failure');
    if (v12.control.exit_code !== SVM_EXIT_ERR) return fail('exit-code-not-invalid', `vmcb12.exit_code = ${hex(v12.control.exit_code)}, want all 64 bits set`);
    if (v12.control.exit_info_1 !== 0n || v12.control.exit_info_2 !== 0n) return fail('exit-info-not-zero', `exit_info_1 = ${hex(v12.control.exit_info_1)}, exit_info_2 = ${hex(v12.control.exit_info_2)}`);
    if (v12.control.event_inj !== 0 || v12.control.event_inj_err !== 0) return fail('event-inj-not-cleared', `vmcb12.event_inj = ${hex(v12.control.event_inj)} after VMEXIT_INVALID`);
    if (a.gif !== 0) return fail('gif-set', 'GIF = 1 after a failed VMRUN');
    if (a.guest_mode || a.current !== '01') return fail('still-in-guest-mode', `guest_mode=${a.guest_mode} current=vmcb${a.current}`);
    if (a.nmi_l1_to_l2 || a.soft_int_injected) return fail('l1-l2-event-tracking-leak', `nmi_l1_to_l2=${a.nmi_l1_to_l2} soft_int_injected=${a.soft_int_injected}`);
    if (a.mmu !== 'root_mmu') return fail('nested-mmu-live', 'nested MMU still loaded after the failure');
    if (a.vmcb12_gpa !== 0n) return fail('vmcb12-gpa-kept', `nested.vmcb12_gpa = ${hex(a.vmcb12_gpa)}`);
    if (a.nested_cr3 !== 0n && (late || unified || ctx.strictArch)) {
      const dev = FAILURE_CLEAN_DEVIATIONS['early-failure-cache-keeps-rejected-vmcb12'];
      return fail('nested-cr3-kept', `nested_cr3 = ${hex(a.nested_cr3)}${late || unified ? '' : ` (listed: ${dev.id})`}`);
    }
    // RIP moves past VMRUN (kvm_skip_emulated_instruction), truncated outside 64-bit mode.
    const long = (b.regs.efer & EFER.LMA) !== 0n && (c.scenario.l1.cs_attrib & SEG_ATTR.L) !== 0;
    const wantRip = long ? b.regs.rip + VMRUN_LEN : (b.regs.rip + VMRUN_LEN) & 0xffffffffn;
    if (a.regs.rip !== wantRip) return fail('rip-not-past-vmrun', `rip = ${hex(a.regs.rip)}, want ${hex(wantRip)}`);
    if (!a.triple_fault) {
      // The full #VMEXIT of kvm-next's late path resets DR7 (and DR6/CR2 stay L2's in arch): listed writes.
      const allowedRegs = new Set(['regs.rip', ...(late && !unified ? ['regs.dr7', 'regs.dr6', 'regs.cr2'] : [])]);
      // APM 15.6: #VMEXIT sets CR0.PE in the restored host CR0.
      if (late && !unified && a.regs.cr0 === (b.regs.cr0 | CR0.PE)) allowedRegs.add('regs.cr0');
      const badRegs = regChanges(b.regs, a.regs).filter((p) => !allowedRegs.has(p));
      if (badRegs.length) return fail('l1-state-changed', `L1 registers changed: ${badRegs.join(', ')}`, { before: b.regs, after: a.regs });
    }
    // A racing L1 vCPU's own write (the scenario's RaceWrite) is L1's doing, not KVM's.
    const raced = c.scenario.race ? `vmcb12.${c.scenario.race.path}` : '';
    const allowed = (p: string) => p === raced || INVALID_WRITES.includes(p) || (late && !unified && (p.startsWith('vmcb12.save.') || FULL_VMEXIT_CONTROL.includes(p)));
    const badWrites = vmcbChanges(b.vmcb12, v12).filter((p) => !allowed(p));
    if (badWrites.length) return fail('vmcb12-write-set', `vmcb12 fields written outside the write set: ${badWrites.join(', ')}`);
    // #DB for a single-stepped VMRUN: kvm-next only on the late path, unified on every failure.
    const tf = (b.regs.rflags & RFLAGS.TF) !== 0n;
    const wantDb = tf && (late || unified || ctx.strictArch);
    const gotDb = a.exception?.vector === VEC.DB;
    if (wantDb !== gotDb) {
      const note = !late && !unified ? ` (listed: ${FAILURE_CLEAN_DEVIATIONS['early-failure-no-db-on-tf'].id})` : '';
      return fail('db-on-tf', `RFLAGS.TF=${tf}: #DB ${gotDb ? 'queued' : 'not queued'}${note}`);
    }
    return HOLDS;
  },
};
