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
