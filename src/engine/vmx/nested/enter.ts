// nested_vmx_enter_non_root_mode (vmx/nested.c; spec §2.3): from a checked vmcs12 to L2 running, in
// KVM's order — vmcs02's controls and L1's pages (nested_get_vmcs12_pages), the guest-state checks
// (VM entry only), guest mode, prepare_vmcs02, the VM-entry MSR-load list (VM entry only). The CPU's
// own checks of vmcs02 come later, when KVM first runs L2 (hardware.ts, called by the caller).

import { SECONDARY, VM_ENTRY } from '../../../arch/vmx/controls.ts';
import { EXIT_REASON, EXIT_REASON_FLAGS } from '../../../arch/vmx/exit_reasons.ts';
import { cc } from '../../trace.ts';
import { checkCtx, type VmxMachine } from '../machine.ts';
import { nested_vmx_check_guest_state, type ReadLinkHeader } from './checks_guest.ts';
import { load_vmcs12_host_state } from './host_state.ts';
import { nested_vmx_load_msr } from './msr_list.ts';
import { nested_cpu_has2 } from './checks_controls.ts';
import { build_vmcs02, nested_vmx_calc_efer, prepare_vmcs02 } from './vmcs02.ts';

export type EnterResult =
  | { kind: 'success'; l2_efer: bigint }
  /** A failed VM entry reflected to L1 by KVM: exit reason (bit 31 set) and qualification. */
  | { kind: 'vmexit'; reason: number; qual: bigint }
  | { kind: 'internal-error' };

/** Reads the VMCS link pointer's header from L1 memory (struct vmcs_hdr: revision 30:0, shadow bit 31). */
export function linkHeaderReader(m: VmxMachine): ReadLinkHeader {
  return (gpa) => {
    if (!m.mem.readable(gpa, 0x1000)) return null;
    const w = m.mem.read32(gpa);
    if (w === null) return null;
    return { revision: w & 0x7fffffff, shadow: (w & 0x80000000) !== 0 };
  };
}

/**
 * The vmentry_fail_vmexit arms: L1 continues at host_rip with vmcs12's host state; vmcs12 gets the
 * exit reason with bit 31 and the qualification and no other exit-information field.
 */
function entry_fail_vmexit(m: VmxMachine, basic: number, qual: bigint): EnterResult {
  m.guest_mode = false;
  load_vmcs12_host_state(m);
  const reason = (basic | EXIT_REASON_FLAGS.FAILED_VMENTRY) >>> 0;
  m.vmcs12.vm_exit_reason = reason;
  m.vmcs12.exit_qualification = qual;
  m.t.emit('nested_vmenter_failed', { reason, qual });
  return { kind: 'vmexit', reason, qual };
}

/**
 * prepare_vmcs02 makes L2's EFER (nested_vmx_calc_efer) and the MSRs vmcs12 loads the vCPU's own
 * (vcpu->arch.efer, .pat, BNDCFGS, PERF_GLOBAL_CTRL). They stay that way on a later VM exit unless
 * vmcs12's exit controls reload them (SDM §28.5.1: only LMA/LME follow the host address-space size;
 * PAT, BNDCFGS and PERF_GLOBAL_CTRL change only with their load/clear controls).
 */
function load_l2_msr_state(m: VmxMachine, l2_efer: bigint): void {
  const v = m.vmcs12;
  const l1 = m.l1;
  l1.efer = l2_efer;
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_IA32_PAT) !== 0) l1.pat = BigInt.asUintN(64, v.guest_ia32_pat);
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_BNDCFGS) !== 0) l1.bndcfgs = BigInt.asUintN(64, v.guest_bndcfgs);
  if ((v.vm_entry_controls & VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL) !== 0) l1.perf_global_ctrl = BigInt.asUintN(64, v.guest_ia32_perf_global_ctrl);
}

export function nested_vmx_enter_non_root_mode(m: VmxMachine, from_vmentry: boolean): EnterResult {
  const v = m.vmcs12;
  const l2_efer = nested_vmx_calc_efer(m.l1.efer, v);

  // prepare_vmcs02_early and nested_get_vmcs12_pages (VM entry; SET_NESTED_STATE defers the pages to
  // KVM_REQ_GET_NESTED_STATE_PAGES, modelled by the caller).
  if (from_vmentry) {
    // nested_get_vmcs12_pages: an APIC-access page L1 cannot back is KVM_EXIT_INTERNAL_ERROR, not architectural.
    const apicAccess = nested_cpu_has2(v, SECONDARY.VIRTUALIZE_APIC_ACCESSES);
    if (cc(m.t, 'get-vmcs12-pages-apic-access-unmappable', apicAccess && !m.mem.readable(BigInt.asUintN(64, v.apic_access_addr), 0x1000))) {
      m.t.emit('kvm_exit_internal_error', { suberror: 'emulation', why: 'apic-access page not mappable' });
      return { kind: 'internal-error' };
    }
  }
  m.vmcs02 = build_vmcs02(m, l2_efer);

  if (from_vmentry) {
    const verdict = nested_vmx_check_guest_state(checkCtx(m, m.nested_run_pending), v, linkHeaderReader(m));
    if (!verdict.ok) return entry_fail_vmexit(m, EXIT_REASON.INVALID_STATE, BigInt(verdict.entry_failure_code));
  }

  m.guest_mode = true;
  load_l2_msr_state(m, l2_efer);
  const code = prepare_vmcs02(m, from_vmentry, l2_efer);
  if (code !== null) return entry_fail_vmexit(m, EXIT_REASON.INVALID_STATE, BigInt(code));

  if (from_vmentry) {
    // nested_vmx_load_msr returns the 1-based index of the failing entry (SDM §27.4: the exit
    // qualification is the entry's index in the list, starting at 1).
    const idx = nested_vmx_load_msr(m, BigInt.asUintN(64, v.vm_entry_msr_load_addr), v.vm_entry_msr_load_count, 'entry-msr-load');
    if (idx !== 0) return entry_fail_vmexit(m, EXIT_REASON.MSR_LOAD_FAIL, BigInt(idx));
  }
  return { kind: 'success', l2_efer };
}
