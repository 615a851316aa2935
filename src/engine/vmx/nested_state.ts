// vmx_set_nested_state (vmx/nested.c) for KVM_STATE_NESTED_FORMAT_VMX, restoring a vCPU that was in
// VMX operation with a current VMCS: the header checks, then — with KVM_STATE_NESTED_GUEST_MODE —
// nested_vmx_check_restored_vmcs12 (controls, host state, guest state; guest EFER only with
// RUN_PENDING) and nested_vmx_enter_non_root_mode(from_vmentry = false), which skips the guest-state
// re-check, the vmx_guest_state_valid check and the VM-entry MSR-load list. Not checked here at all:
// MOV-SS blocking, the launch state, nested_vmx_check_address_space_size (those belong to the
// instruction, not to the state). Pages and PDPTRs are mapped later (vmx_get_nested_state_pages).

import { VMCS12_REVISION } from '../../arch/vmx/vmcs12.ts';
import { cc } from '../trace.ts';
import { checkCtx, type VmxMachine } from './machine.ts';
import { nested_vmx_check_controls } from './nested/checks_controls.ts';
import { nested_vmx_check_guest_state } from './nested/checks_guest.ts';
import { nested_vmx_check_host_state } from './nested/checks_host.ts';
import { linkHeaderReader, nested_vmx_enter_non_root_mode } from './nested/enter.ts';
import { nested_vmx_load_cr3 } from './nested/vmcs02.ts';
import { nested_cpu_has2 } from './nested/checks_controls.ts';
import { SECONDARY } from '../../arch/vmx/controls.ts';
import { page_address_valid } from '../x86.ts';
import { INVALID_GPA } from './vcpu.ts';

export type SetNestedStateResult =
  | { kind: 'einval' }
  | { kind: 'state-set' }
  | { kind: 'entered'; l2_efer: bigint }
  | { kind: 'internal-error' };

export function vmx_set_nested_state(m: VmxMachine): SetNestedStateResult {
  const { t, s } = m;
  const hdr = s.nested_state;
  // "if (!guest_cpu_cap_has(vcpu, X86_FEATURE_VMX)) return -EINVAL" / "!page_address_valid(vmxon_pa)".
  if (cc(t, 'set-nested-state-no-vmx-cpuid', s.guest.cpuid.vmx !== true)) return { kind: 'einval' };
  if (cc(t, 'set-nested-state-vmxon-pa-invalid', !s.l1.vmxon || !page_address_valid(s.l1.vmxon_ptr, s.guest.maxphyaddr))) return { kind: 'einval' };
  // "is_smm(vcpu) ? (flags & (GUEST_MODE | RUN_PENDING)) : smm.flags": SMM temporarily leaves VMX operation.
  if (cc(t, 'set-nested-state-guest-mode-in-smm', s.l1.smm && (hdr.guest_mode || hdr.run_pending))) return { kind: 'einval' };
  // vmcs12_pa: INVALID with a guest mode flag, equal to the VMXON region, or not a page address.
  const vmcs12_pa = s.current_vmptr;
  if (vmcs12_pa === INVALID_GPA) {
    if (cc(t, 'set-nested-state-guest-mode-without-vmcs12', hdr.guest_mode)) return { kind: 'einval' };
    m.t.emit('set_nested_state', { vmxon: true, vmcs12: false });
    return { kind: 'state-set' };
  }
  if (cc(t, 'set-nested-state-vmcs12-pa-invalid', vmcs12_pa === s.l1.vmxon_ptr || !page_address_valid(vmcs12_pa, s.guest.maxphyaddr))) return { kind: 'einval' };
  // "if (vmcs12->hdr.revision_id != VMCS12_REVISION) return -EINVAL".
  if (cc(t, 'set-nested-state-vmcs12-revision', s.vmcs12_revision !== VMCS12_REVISION)) return { kind: 'einval' };
  if (!hdr.guest_mode) {
    m.t.emit('set_nested_state', { vmxon: true, vmcs12: true, guest_mode: false });
    return { kind: 'state-set' };
  }
  m.nested_run_pending = hdr.run_pending;
  // nested_vmx_check_restored_vmcs12: the shadow VMCS12 (not modelled as separate data) then the three check groups.
  const ctx = checkCtx(m, hdr.run_pending);
  if (!nested_vmx_check_controls(ctx, m.vmcs12) || !nested_vmx_check_host_state(ctx, m.vmcs12)) {
    m.nested_run_pending = false;
    return { kind: 'einval' };
  }
  if (!nested_vmx_check_guest_state(ctx, m.vmcs12, linkHeaderReader(m)).ok) {
    m.nested_run_pending = false;
    return { kind: 'einval' };
  }
  const r = nested_vmx_enter_non_root_mode(m, false);
  if (r.kind !== 'success') {
    m.nested_run_pending = false;
    return { kind: 'einval' };
  }
  m.t.emit('set_nested_state', { vmxon: true, vmcs12: true, guest_mode: true, run_pending: hdr.run_pending });
  // vmx_get_nested_state_pages on the next KVM_RUN: without nested EPT, PAE paging reloads L2's PDPTRs;
  // failure is KVM_EXIT_INTERNAL_ERROR.
  const v = m.vmcs12;
  const bad = nested_vmx_load_cr3(m, BigInt.asUintN(64, v.guest_cr3), nested_cpu_has2(v, SECONDARY.ENABLE_EPT), true, {
    cr0: BigInt.asUintN(64, v.guest_cr0), cr4: BigInt.asUintN(64, v.guest_cr4), efer: r.l2_efer,
  });
  if (bad !== null) {
    m.t.emit('kvm_exit_internal_error', { suberror: 'emulation', why: 'get_nested_state_pages: PDPTRs' });
    return { kind: 'internal-error' };
  }
  return { kind: 'entered', l2_efer: r.l2_efer };
}

export const VMX_SET_NESTED_STATE_CHECK_IDS: readonly string[] = [
  'set-nested-state-no-vmx-cpuid', 'set-nested-state-vmxon-pa-invalid', 'set-nested-state-guest-mode-in-smm',
  'set-nested-state-guest-mode-without-vmcs12', 'set-nested-state-vmcs12-pa-invalid', 'set-nested-state-vmcs12-revision',
];
