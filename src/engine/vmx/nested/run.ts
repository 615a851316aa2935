// nested_vmx_run (vmx/nested.c; spec §2.2): VMLAUNCH / VMRESUME in KVM's order — #UD/#GP
// (nested_vmx_check_permission), VMfailInvalid (no current VMCS, or a shadow VMCS), VMfailValid 26
// (MOV-SS blocking), 4/5 (launch state), 7 (controls), 8 (address-space size, host state), then
// nested_vmx_enter_non_root_mode, whose failures are VM exits 33/34 to L1; then the CPU enters
// vmcs02 (hardware.ts), which may still refuse it: exit 33 reflected to L1, or a late VMfail 7.

import { PIN_BASED } from '../../../arch/vmx/controls.ts';
import { VMXERR } from '../../../arch/vmx/errors.ts';
import { EXIT_REASON_FLAGS } from '../../../arch/vmx/exit_reasons.ts';
import { DEFAULT_HOST_CR4_FIXED1 } from '../../../arch/vmx/caps.ts';
import { has } from '../../profiles.ts';
import { cc } from '../../trace.ts';
import { nested_vmx_check_permission, nested_vmx_failInvalid, nested_vmx_failValid } from '../instructions.ts';
import { checkCtx, syncFromInsn, type VmxMachine } from '../machine.ts';
import type { VmxHardwareVerdict } from '../result.ts';
import type { VmxL1 } from '../scenario.ts';
import { INVALID_GPA } from '../vcpu.ts';
import { nested_vmx_check_controls } from './checks_controls.ts';
import { nested_vmx_check_address_space_size, nested_vmx_check_host_state } from './checks_host.ts';
import { nested_vmx_enter_non_root_mode } from './enter.ts';
import { vmx_hardware_vmentry } from './hardware.ts';
import { nested_vmx_late_vmfail, nested_vmx_vmexit } from './vmexit.ts';

/** VMLAUNCH is 0F 01 C2, VMRESUME 0F 01 C3. */
const VMLAUNCH_LEN = 3;

export type NestedVmxRunResult =
  | { kind: 'fault'; outcome: '#UD' | '#GP' }
  | { kind: 'vmfail-invalid' }
  | { kind: 'vmfail-valid'; error: number; late: boolean; hardware: VmxHardwareVerdict | null }
  | { kind: 'entry-failure'; reason: number; qual: bigint; layer: 'kvm' | 'hardware'; hardware: VmxHardwareVerdict | null }
  | { kind: 'entered'; l2_efer: bigint }
  | { kind: 'internal-error' };

function failValid(m: VmxMachine, error: number): NestedVmxRunResult {
  nested_vmx_failValid(m.insn, { insn_len: VMLAUNCH_LEN }, error);
  syncFromInsn(m);
  return { kind: 'vmfail-valid', error, late: false, hardware: null };
}

/**
 * The CPU's VM entry of vmcs02 (vmx_vcpu_run): a guest-state failure comes back as exit 33 with bit 31
 * and KVM reflects it to L1 through nested_vmx_vmexit; a control failure is a late VMfail.
 */
export function vmx_vcpu_run_vmcs02(m: VmxMachine, l2_efer: bigint, pre: VmxL1): NestedVmxRunResult | null {
  const vmcs02 = m.vmcs02;
  if (vmcs02 === null) return null;
  const caps = m.s.caps;
  const hw = vmx_hardware_vmentry(m.t, {
    vmcs12: m.vmcs12,
    vmcs02,
    unrestricted_guest: m.s.l0.enable_unrestricted_guest,
    host_cr0_fixed0: caps.cr0Fixed0,
    host_cr0_fixed1: 0xffffffffn,
    host_cr4_fixed0: caps.cr4Fixed0,
    host_cr4_fixed1: DEFAULT_HOST_CR4_FIXED1,
    maxphyaddr: m.s.guest.maxphyaddr,
    current_vmptr: m.s.current_vmptr,
    vmxon_ptr: m.l1.vmxon_ptr,
    no_hw_error_code_cc: false,
    vtpr: vtprOf(m),
  });
  if (hw.ok) return null;
  m.t.emit('nested_vmenter_failed_hardware', { rule: hw.rule ?? null, kind: hw.kind ?? null, owner: hw.owner ?? null });
  // nested.c warn_on_missed_cc: KVM's checks should have rejected this state before the CPU did.
  if (hw.owner === 'kvm' && m.s.l0.warn_on_missed_cc) m.t.warn('nested-vmenter-missed-consistency-check', { rule: hw.rule ?? null });
  if (hw.kind === 'vmfail-7') {
    nested_vmx_late_vmfail(m, pre);
    return { kind: 'vmfail-valid', error: VMXERR.ENTRY_INVALID_CONTROL_FIELD, late: true, hardware: hw };
  }
  const reason = (33 | EXIT_REASON_FLAGS.FAILED_VMENTRY) >>> 0;
  const qual = BigInt(hw.qual ?? 0);
  nested_vmx_vmexit(m, { reason, qualification: qual, intr_info: 0, instruction_len: 0 }, l2_efer);
  return { kind: 'entry-failure', reason, qual, layer: 'hardware', hardware: hw };
}

/** `pre` is L1's state as vmcs01 holds it at the instruction: what a late VMfail unwinds to. */
/** VTPR (virtual-APIC page offset 0x80) as the CPU reads it from the page KVM mapped. */
function vtprOf(m: VmxMachine): number {
  const vapic = m.vmcs02?.virtual_apic_page_addr ?? INVALID_GPA;
  if (vapic === INVALID_GPA) return 0;
  return (m.mem.read32(vapic + 0x80n) ?? 0) & 0xff;
}

export function nested_vmx_run(m: VmxMachine, launch: boolean, pre: VmxL1): NestedVmxRunResult {
  const { t, p } = m;
  const denied = nested_vmx_check_permission(m.insn);
  if (denied) return { kind: 'fault', outcome: denied.outcome as '#UD' | '#GP' };

  // "if (!nested_vmx_evmcs(vmx) && vmx->nested.current_vmptr == INVALID_GPA) return nested_vmx_failInvalid(vcpu)".
  if (cc(t, 'vmlaunch-no-current-vmcs', m.s.current_vmptr === INVALID_GPA)) {
    nested_vmx_failInvalid(m.v, { insn_len: VMLAUNCH_LEN });
    syncFromInsn(m);
    return { kind: 'vmfail-invalid' };
  }
  // "if (CC(vmcs12->hdr.shadow_vmcs)) return nested_vmx_failInvalid(vcpu)": SDM 31.3, a shadow VMCS cannot be launched.
  if (cc(t, 'vmlaunch-current-vmcs-is-shadow', m.s.vmcs12_shadow)) {
    nested_vmx_failInvalid(m.v, { insn_len: VMLAUNCH_LEN });
    syncFromInsn(m);
    return { kind: 'vmfail-invalid' };
  }
  // SDM 31.3: "ELSIF events are being blocked by MOV SS THEN VMfailValid(VM entry with events blocked by MOV SS)".
  if (cc(t, 'vmlaunch-blocked-by-mov-ss', (m.l1.interruptibility & 0x2) !== 0)) return failValid(m, VMXERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
  // SDM 31.3: VMLAUNCH needs a clear VMCS (4), VMRESUME a launched one (5).
  const launched = m.launch_state === 'launched';
  if (launch ? cc(t, 'vmlaunch-nonclear-vmcs', launched) : cc(t, 'vmresume-nonlaunched-vmcs', !launched)) {
    return failValid(m, launch ? VMXERR.VMLAUNCH_NONCLEAR_VMCS : VMXERR.VMRESUME_NONLAUNCHED_VMCS);
  }
  const ctx = checkCtx(m, true);
  if (!nested_vmx_check_controls(ctx, m.vmcs12)) return failValid(m, VMXERR.ENTRY_INVALID_CONTROL_FIELD);
  if (!nested_vmx_check_address_space_size(ctx, m.vmcs12, m.l1.efer)) return failValid(m, VMXERR.ENTRY_INVALID_HOST_STATE_FIELD);
  if (!nested_vmx_check_host_state(ctx, m.vmcs12)) return failValid(m, VMXERR.ENTRY_INVALID_HOST_STATE_FIELD);

  m.nested_run_pending = true;
  const timer = (m.vmcs12.pin_based_vm_exec_control & PIN_BASED.VMX_PREEMPTION_TIMER) !== 0;
  // A kernel that started the hrtimer before the entry succeeded leaves it armed when the entry fails.
  if (timer && !has(p, 'vmx-timer-armed-after-entry')) m.timer_armed = true;

  const r = nested_vmx_enter_non_root_mode(m, true);
  if (r.kind === 'internal-error') {
    m.nested_run_pending = false;
    return { kind: 'internal-error' };
  }
  if (r.kind === 'vmexit') {
    m.nested_run_pending = false;
    return { kind: 'entry-failure', reason: r.reason, qual: r.qual, layer: 'kvm', hardware: null };
  }
  // "Start the preemption timer only after success": nested_vmx_vmexit is then the only place that cancels it.
  if (timer && has(p, 'vmx-timer-armed-after-entry')) m.timer_armed = true;
  const hw = vmx_vcpu_run_vmcs02(m, r.l2_efer, pre);
  if (hw !== null) return hw;
  return { kind: 'entered', l2_efer: r.l2_efer };
}

export const VMX_RUN_CHECK_IDS: readonly string[] = [
  'vmlaunch-no-current-vmcs', 'vmlaunch-current-vmcs-is-shadow', 'vmlaunch-blocked-by-mov-ss', 'vmlaunch-nonclear-vmcs', 'vmresume-nonlaunched-vmcs',
  'get-vmcs12-pages-apic-access-unmappable',
];
