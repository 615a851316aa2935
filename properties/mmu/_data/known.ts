// Where KVM's synthesized nested faults knowingly differ from what the CPU reports for the same
// access (hardware-emulation-parity), as data with reason and source. `--strict-arch` reports them.

export interface KnownDivergence {
  id: string;
  field: string;
  reason: string;
  source: string;
}

export const PARITY_DIVERGENCES: Record<string, KnownDivergence> = {
  'synthesized-gpa-page-aligned': {
    id: 'synthesized-gpa-page-aligned',
    field: 'exit_info_2 / guest_physical_address bits 11:0',
    reason: 'KVM\'s walker hands the nested walk table_gfn << 12 or gfn << 12, so a synthesized fault reports a page-aligned GPA; the CPU reports the byte address of the PTE or of the access',
    source: 'paging_tmpl.h walk_addr_generic (kvm_translate_gpa(gfn_to_gpa(...))); spec vmx-mmu.md §3.3 "GPA granularity divergence"',
  },
  'synthesized-gla-stale': {
    id: 'synthesized-gla-stale',
    field: 'vmcs12.guest_linear_address',
    reason: 'KVM does not compute the guest-linear address of a fault it found itself; sync_vmcs02_to_vmcs12 copies vmcs02\'s, left by the last hardware exit',
    source: 'nested.c nested_ept_inject_page_fault / sync_vmcs02_to_vmcs12; spec vmx-mmu.md §3.3',
  },
  'synthesized-no-advanced-info': {
    id: 'synthesized-no-advanced-info',
    field: 'EPT-violation qualification bits 9–11',
    reason: 'with ADVANCED_VMEXIT_INFO the CPU reports the linear address\'s user/writable/NX; KVM reports them only for faults that came from hardware',
    source: 'nested.c nested_ept_inject_page_fault (mask | GVA_USER | GVA_WRITABLE | GVA_NX only from the VMCS)',
  },
};

/**
 * Findings KVM's own code calls impossible, reachable in the model: listed so the default campaign
 * stays green, reported with a shrunk example under --strict-arch.
 */
export const KNOWN_FINDINGS: Record<string, KnownDivergence> = {
  'pml-full-from-emulator': {
    id: 'pml-full-from-emulator',
    field: 'WARN nested_ept_inject_page_fault-pml-full-not-ept-violation; PML-full exit qualification bit 12',
    reason: 'L0\'s emulator (e.g. an INS it performs after an I/O exit) sets an EPT dirty bit through the nested walk; with L1\'s PML log full, nested_vmx_write_pml_buffer fails the walk and nested_ept_inject_page_fault takes the PML-full branch while vmcs02 holds the I/O exit: the WARN_ON_ONCE(exit_reason != EPT_VIOLATION) fires, and bit 12 of the injected qualification is read from the unrelated exit',
    source: 'nested.c nested_ept_inject_page_fault (pml_full branch) and nested_vmx_write_pml_buffer; paging_tmpl.h update_accessed_dirty_bits; spec vmx-mmu.md §3.1 item 1, §6 #15',
  },
};
