// Known, listed deviations of nested VMX: where KVM knowingly differs from the SDM, where the entry
// paths knowingly differ, and WARNs knowingly reachable. Each entry has its reason and source.
// Invariants consult these lists; `fuzz --strict-arch` reports them too.

export interface KnownDeviation {
  id: string;
  reason: string;
  source: string;
}

/** Places where KVM's order of the VM-entry checks differs from the SDM's (vmlaunch-outcome-order). */
export const ORDER_DEVIATIONS: Record<string, KnownDeviation> = {
  'msr-load-before-hardware-guest-state': {
    id: 'msr-load-before-hardware-guest-state',
    reason: 'KVM processes the VM-entry MSR-load list (exit 34) before the CPU checks the guest-state rules KVM leaves to hardware; the SDM checks all guest state (§27.3) before loading MSRs (§27.4), so it would report exit 33',
    source: 'nested.c nested_vmx_enter_non_root_mode (nested_vmx_load_msr before vmx_vcpu_run); SDM vol.3C §27.3, §27.4; spec vmx-mmu.md §2.6',
  },
};

/** Allowed departures from "a VMfail has no side effects" (vmfail-no-side-effects). */
export const VMFAIL_DEVIATIONS: Record<string, KnownDeviation> = {
  'late-vmfail-keeps-entry-msr-loads': {
    id: 'late-vmfail-keeps-entry-msr-loads',
    reason: 'a late VMfail (the CPU refuses vmcs02\'s controls for a rule KVM leaves to hardware, e.g. an unmappable virtual-APIC page) comes after KVM processed the VM-entry MSR-load list; nested_vmx_restore_host_state restores only MSRs the VM-exit MSR-load list names, the others keep L2\'s values',
    source: 'nested.c nested_vmx_restore_host_state ("best effort"), nested_get_vmcs12_pages (INVALID_GPA virtual-APIC page); SDM vol.3C §31.2 VMfail',
  },
  'late-vmfail-restores-from-exit-list': {
    id: 'late-vmfail-restores-from-exit-list',
    reason: 'after a late VMfail, nested_vmx_restore_host_state writes, for every VM-entry MSR-load entry that the VM-exit MSR-load list also names, the exit list\'s value (whether or not the entry value was loaded); an unreadable or refused exit-list entry there is a VMX abort (triple fault)',
    source: 'nested.c nested_vmx_restore_host_state (loop over vm_entry_msr_load_count, goto vmabort → nested_vmx_abort(VMX_ABORT_LOAD_HOST_MSR_FAIL))',
  },
};

/** Where KVM_SET_NESTED_STATE checks less than VMLAUNCH (entry-path-parity). */
export const PATH_DIFFERENCES: Record<string, KnownDeviation> = {
  'sns-no-instruction-gates': {
    id: 'sns-no-instruction-gates',
    reason: 'the VMX-instruction gates (#UD/#GP, VMfailInvalid, MOV-SS blocking 26, launch state 4/5) belong to VMLAUNCH, not to the state userspace restores',
    source: 'nested.c vmx_set_nested_state vs nested_vmx_run',
  },
  'sns-no-address-space-size': {
    id: 'sns-no-address-space-size',
    reason: 'nested_vmx_check_address_space_size (HOST_ADDR_SPACE_SIZE vs L1 EFER.LMA) is only called by nested_vmx_run',
    source: 'nested.c nested_vmx_check_restored_vmcs12 vs nested_vmx_run',
  },
  'sns-no-msr-load-list': {
    id: 'sns-no-msr-load-list',
    reason: 'nested_vmx_enter_non_root_mode(from_vmentry = false) does not process the VM-entry MSR-load list (exit 34)',
    source: 'nested.c nested_vmx_enter_non_root_mode',
  },
  'sns-no-guest-state-valid-or-pdptes': {
    id: 'sns-no-guest-state-valid-or-pdptes',
    reason: 'prepare_vmcs02 with from_vmentry false skips vmx_guest_state_valid and the PDPTE load; PDPTEs are loaded later (vmx_get_nested_state_pages) and a failure is KVM_EXIT_INTERNAL_ERROR',
    source: 'nested.c prepare_vmcs02, vmx_get_nested_state_pages',
  },
  'sns-pages-deferred': {
    id: 'sns-pages-deferred',
    reason: 'nested_get_vmcs12_pages (APIC-access page) runs at VM entry; SET_NESTED_STATE defers it to KVM_REQ_GET_NESTED_STATE_PAGES',
    source: 'nested.c vmx_set_nested_state, nested_vmx_enter_non_root_mode',
  },
  'sns-header-checks': {
    id: 'sns-header-checks',
    reason: 'SET_NESTED_STATE checks the header (VMX CPUID, VMXON/vmcs12 addresses, vmcs12 revision, SMM flags) that VMXON/VMPTRLD checked for VMLAUNCH',
    source: 'nested.c vmx_set_nested_state',
  },
};

/**
 * WARN sites knowingly reachable from guest-controlled input. None: nested-vmenter-missed-consistency-check
 * fires only with l0.warn_on_missed_cc and only when KVM missed a check (a finding, not a listed WARN);
 * the MSR-list count WARNs are unreachable with the count consistency check in place.
 */
export const KNOWN_WARNS: KnownDeviation[] = [];
