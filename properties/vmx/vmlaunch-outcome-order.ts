// "VMLAUNCH/VMRESUME stop at the first failing stage, in KVM's order": #UD/#GP → VMfailInvalid →
// VMfailValid 26 → 4/5 → 7 → 8 → (KVM_EXIT_INTERNAL_ERROR for unmappable pages) → exit 33 from KVM →
// exit 34 → the CPU's entry of vmcs02 (exit 33 / late VMfail 7) → L2 runs (spec vmx-mmu.md §2.2).
// The result's stage is checked against the trace's failed checks, against the SDM's instruction
// gates computed from the scenario, and against KVM's check groups re-evaluated on a fresh trace.
// A CPU rejection of vmcs02 for a rule KVM's software checks own means KVM missed a check
// (nested.c warn_on_missed_cc). Under --strict-arch, KVM's exit 34 while the CPU would also refuse
// the guest state is reported (the SDM checks guest state before loading MSRs).

import { DEFAULT_HOST_CR4_FIXED1 } from '../../src/arch/vmx/caps.ts';
import { profileDropped, type Profile } from '../../src/engine/profiles.ts';
import { Trace } from '../../src/engine/trace.ts';
import { newVmxCheckCtx } from '../../src/engine/vmx/ctx.ts';
import { nested_vmx_check_controls } from '../../src/engine/vmx/nested/checks_controls.ts';
import { nested_vmx_check_guest_state } from '../../src/engine/vmx/nested/checks_guest.ts';
import { nested_vmx_check_address_space_size, nested_vmx_check_host_state } from '../../src/engine/vmx/nested/checks_host.ts';
import { vmx_hardware_vmentry } from '../../src/engine/vmx/nested/hardware.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import type { VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { ORDER_DEVIATIONS } from './_data/known.ts';
import { checkStage, resultStage, sdmGateStage, stageIndex, type Stage } from './_lib.ts';

/** KVM's check groups re-evaluated on the scenario's vmcs12: the first group that fails, or null. */
export function firstFailingGroup(s: VmxScenario, p: Profile): { stage: Stage; ids: string[] } | null {
  const ctx = () => newVmxCheckCtx({ t: new Trace(profileDropped(p)), p, caps: s.caps, guest: s.guest, nested_run_pending: true });
  const c1 = ctx();
  if (!nested_vmx_check_controls(c1, s.vmcs12)) return { stage: 'vmfail-7', ids: c1.t.failedChecks() };
  const c2 = ctx();
  if (!nested_vmx_check_address_space_size(c2, s.vmcs12, s.l1.efer) || !nested_vmx_check_host_state(c2, s.vmcs12)) return { stage: 'vmfail-8', ids: c2.t.failedChecks() };
  const c3 = ctx();
  // The link pointer's header is read from L1 memory; a re-evaluation without memory skips that one
  // rule (the reader returning null would report it unreadable), so it reads the scenario's words.
  const read = (gpa: bigint) => {
    if (gpa < 0n || gpa + 0x1000n > s.ram_top) return null;
    const w = s.mem['0x' + (gpa & ~7n).toString(16)] ?? 0n;
    const lo = Number(BigInt.asUintN(32, w));
    return { revision: lo & 0x7fffffff, shadow: (lo & 0x80000000) !== 0 };
  };
  if (!nested_vmx_check_guest_state(c3, s.vmcs12, read).ok) return { stage: 'exit-33-kvm', ids: c3.t.failedChecks() };
  return null;
}

/** The CPU's verdict on vmcs02 as KVM built it (for the strict-arch order comparison). */
function hardwareVerdict(s: VmxScenario, r: VmxRunResult) {
  if (!r.vmcs02) return null;
  return vmx_hardware_vmentry(new Trace(), {
    vmcs12: s.vmcs12, vmcs02: r.vmcs02, unrestricted_guest: s.l0.enable_unrestricted_guest,
    host_cr0_fixed0: s.caps.cr0Fixed0, host_cr0_fixed1: 0xffffffffn, host_cr4_fixed0: s.caps.cr4Fixed0, host_cr4_fixed1: DEFAULT_HOST_CR4_FIXED1,
    maxphyaddr: s.guest.maxphyaddr, current_vmptr: s.current_vmptr, vmxon_ptr: s.l1.vmxon_ptr, no_hw_error_code_cc: false,
  });
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmlaunch-outcome-order',
  area: 'vmx',
  title: 'VMLAUNCH/VMRESUME stop at the first failing stage in KVM\'s order; the CPU never rejects what KVM must check',
  rationale: 'SDM vol.3C §31.3 VMLAUNCH/VMRESUME (#UD, #GP, VMfailInvalid, 26, 4/5), §27.2-27.4 (7, 8, exit 33, exit 34); KVM nested.c nested_vmx_run, nested_vmx_enter_non_root_mode, warn_on_missed_cc; 727ba748e110 (CVE-2018-12904), 112e66017bff (CVE-2023-30456)',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    if (s.path === 'set-nested-state') return HOLDS;
    const r = runVmx(s, ctx.profile);

    // (a) The CPU refused vmcs02 for a rule KVM's own consistency checks are meant to catch.
    if (r.hardware && !r.hardware.ok && r.hardware.owner === 'kvm') {
      return fail('missed-consistency-check', `the CPU rejected vmcs02 (${r.hardware.rule}, ${r.hardware.kind}) for a rule KVM's checks own`, { rule: r.hardware.rule, kind: r.hardware.kind, outcome: r.outcome });
    }

    const stage = resultStage(r);
    if (stage === null) return fail('unclassified-outcome', `outcome ${r.outcome} (error ${r.vm_instruction_error}, exit ${r.exit_reason}) is no stage of nested_vmx_run`, { outcome: r.outcome });
    const at = stageIndex(stage);

    // (b1) No check of an earlier stage failed in the trace, and the first failing check is this stage's.
    const failed = r.trace.failedChecks().map((id) => ({ id, stage: checkStage(id) })).filter((x) => x.stage !== undefined);
    const earlier = failed.find((x) => stageIndex(x.stage!) < at);
    if (earlier) return fail('outcome-after-failed-check', `outcome at stage ${stage} although ${earlier.id} (stage ${earlier.stage}) failed`, { stage, check: earlier.id });
    if (stage !== 'entered' && stage !== 'fault' && failed.length && failed[0].stage !== stage) {
      return fail('outcome-stage-mismatch', `outcome at stage ${stage}, first failing check ${failed[0].id} is stage ${failed[0].stage}`, { stage, check: failed[0].id });
    }

    // (b2) The SDM's instruction gates, from the scenario alone.
    const gate = sdmGateStage(s, s.path === 'vmlaunch');
    if (gate !== null && stageIndex(gate) < at) return fail('gate-skipped', `the SDM stops VMLAUNCH/VMRESUME at ${gate}; the outcome is ${r.outcome} (stage ${stage})`, { gate, stage });
    if (gate === null && stageIndex(stage) <= stageIndex('vmfail-4-5')) {
      return fail('gate-invented', `no instruction gate fails, yet the outcome is ${r.outcome} (stage ${stage})`, { stage });
    }

    // (b3) KVM's check groups re-evaluated independently of the run.
    if (gate === null) {
      const g = firstFailingGroup(s, ctx.profile);
      if (g !== null && stageIndex(g.stage) < at) {
        return fail('group-skipped', `${g.stage} checks fail (${g.ids.join(', ')}) but the outcome is ${r.outcome} (stage ${stage})`, { group: g.stage, ids: g.ids, stage });
      }
      if (g === null && (stage === 'vmfail-7' || stage === 'vmfail-8')) {
        return fail('group-invented', `no ${stage} check fails on re-evaluation, yet the outcome is ${r.outcome}`, { stage });
      }
    }

    // (c) strict-arch: exit 34 while the CPU would refuse the guest state (the SDM's order gives exit 33).
    if (ctx.strictArch && stage === 'exit-34') {
      const hw = hardwareVerdict(s, r);
      if (hw && !hw.ok && hw.owner === 'hardware') {
        const d = ORDER_DEVIATIONS['msr-load-before-hardware-guest-state'];
        return fail('listed-order-difference', `KVM reports exit 34 where the SDM's order stops at ${hw.rule} (${hw.kind}) first (${d.id})`, { deviation: d.id, rule: hw.rule, source: d.source });
      }
    }
    return HOLDS;
  },
};
