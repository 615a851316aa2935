// After every run of L2 the vmcb12 cache (svm->nested.ctl) holds what the CPU wrote into vmcb02:
// the interrupt shadow (int_state), NextRIP, the undelivered event (event_inj/err) and int_ctl's
// V_TPR / V_IRQ (spec §4.1, §7 row 18). The cache is KVM_GET_NESTED_STATE's control payload, so a
// stale field is what a migrated L2 resumes with: a lost STI shadow lets an interrupt in before the
// HLT of "sti; hlt", a stale NextRIP misplaces the RIP of a re-injected soft interrupt or of L1's
// emulation.
//
// Observation point: the end of svm_vcpu_run while still in guest mode (the engine's
// svm_vcpu_run_l2_exit event), i.e. after the sync and before any exit handler. An exit to
// userspace (MMIO, I/O, a signal kick) returns from there with vmcb02 untouched, which is where
// userspace may call KVM_GET_NESTED_STATE. The end of the whole scenario is not the right point:
// exit handlers rightly change vmcb02 after the sync (kvm_skip_emulated_instruction clears the
// shadow, an injected exception fills event_inj) and the next run syncs again.

import { INT_CTL } from '../../src/arch/svm/defs.ts';
import { run } from '../../src/engine/svm/run.ts';
import { svmCase } from '../../src/arbitraries/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict } from '../types.ts';
import type { SvmCase } from '../types.ts';
import { hex } from './_lib.ts';

const num = (x: unknown): number => x as number;
const big = (x: unknown): bigint => x as bigint;

export const property: NestfuzzProperty<SvmCase> = {
  id: 'nested-cache-synced',
  area: 'svm',
  title: 'after each L2 run the vmcb12 cache has vmcb02\'s int_state, next_rip, event_inj and V_TPR/V_IRQ',
  rationale: 'APM vol.2 15.7.1 (NextRIP), 15.21.5 (interrupt shadow in int_state), 15.20; KVM svm_vcpu_run, nested_sync_control_from_vmcb02, svm_get_nested_state; 1709418535a8 "Sync interrupt shadow to cached vmcb12 after VMRUN of L2", 702ce67817de "Sync NextRIP to cached vmcb12 after VMRUN of L2"',
  arbitrary: () => svmCase(),
  predicate(c, ctx): Verdict {
    const r = run(c.scenario, ctx.profile);
    for (const e of r.trace.events) {
      if (e.ev !== 'svm_vcpu_run_l2_exit') continue;
      const where = `after the L2 run ending at RIP ${hex(big(e.rip))}${e.exit_code === null ? '' : ` (exit ${hex(num(e.exit_code))})`}`;
      if (num(e.int_state_12) !== num(e.int_state_02)) {
        return fail('int-state-stale', `cached int_state ${hex(num(e.int_state_12))}, vmcb02 ${hex(num(e.int_state_02))} ${where}`);
      }
      if (big(e.next_rip_12) !== big(e.next_rip_02)) {
        return fail('next-rip-stale', `cached next_rip ${hex(big(e.next_rip_12))}, vmcb02 ${hex(big(e.next_rip_02))} ${where}`);
      }
      if (num(e.event_inj_12) !== num(e.event_inj_02) || num(e.event_inj_err_12) !== num(e.event_inj_err_02)) {
        return fail('event-inj-stale', `cached event_inj ${hex(num(e.event_inj_12))}/${hex(num(e.event_inj_err_12))}, vmcb02 ${hex(num(e.event_inj_02))}/${hex(num(e.event_inj_err_02))} ${where}`);
      }
      // V_IRQ is L0's own while it borrows VINTR for an interrupt window of its own (vmcb02 intercepts
      // VINTR, vmcb12 does not): nested_sync_control_from_vmcb02 then leaves it alone.
      const mask = INT_CTL.V_TPR_MASK | (e.vintr_l0 ? 0 : INT_CTL.V_IRQ);
      if (((num(e.int_ctl_12) ^ num(e.int_ctl_02)) & mask) !== 0) {
        return fail('int-ctl-stale', `cached int_ctl ${hex(num(e.int_ctl_12))}, vmcb02 ${hex(num(e.int_ctl_02))} (V_TPR/V_IRQ) ${where}`);
      }
    }
    return HOLDS;
  },
};
