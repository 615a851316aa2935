// Inputs of one fault through KVM's MMU page-fault path (issue #6, the "KVM: x86/mmu: Page fault and
// MMIO cleanups" series; spec vmx-mmu.md §5): the VM type, its memslots and per-gfn attributes, the
// MMIO SPTE cache, guest mode, async-PF state, and the fault as the hardware reported it.

/** KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM, KVM_X86_SNP_VM. */
export type VmType = 'default' | 'sw-protected' | 'snp';

/** KVM-internal memslots (private to KVM, not userspace's). */
export type InternalSlot = 'apic-access' | 'tss' | 'identity-map';

export interface Memslot {
  id: number;
  base_gfn: bigint;
  npages: bigint;
  /** KVM_MEM_GUEST_MEMFD: the slot can back private memory. */
  guest_memfd: boolean;
  /** KVM_MEM_READONLY. */
  readonly: boolean;
  /** A KVM-internal slot, or null for a userspace slot. */
  internal: InternalSlot | null;
  /** KVM_MEMSLOT_INVALID: being deleted or moved. */
  invalid: boolean;
  /** What faulting-in its pages gives: a page, a hardware-poisoned page, or an error (no page). */
  backing: 'ok' | 'hwpoison' | 'error';
  /** The host page is not resident: a shared fault may go async (kvm_arch_setup_async_pf). */
  swapped_out: boolean;
}

/** How the fault reached KVM. */
export type FaultEntry =
  /** The #PF intercept (shadow paging with a non-paging guest, or async PF): kvm_handle_page_fault. */
  | 'pf-intercept'
  /** SVM #NPF: npf_interception, exit_info_1 = the hardware error code. */
  | 'npf'
  /** VMX EPT violation: handle_ept_violation builds the error code from the qualification. */
  | 'ept-violation';

export interface PageFaultScenario {
  arch: 'mmu-pf';
  vm_type: VmType;
  entry: FaultEntry;
  /** #PF / #NPF: the hardware's 64-bit error code (exit_info_1). */
  hw_error_code: bigint;
  /** EPT violation: the exit qualification. */
  ept_qual: bigint;
  /** The faulting address: CR2 (a non-paging guest: GVA = GPA) or the guest-physical address. */
  address: bigint;
  memslots: Memslot[];
  /** gfns with KVM_MEMORY_ATTRIBUTE_PRIVATE. */
  private_gfns: bigint[];
  /** enable_mmio_caching (module parameter) and the gfns whose SPTE is already an MMIO SPTE. */
  mmio_caching: boolean;
  mmio_sptes: bigint[];
  /** kvm_mmu_max_gfn(): beyond it an MMIO SPTE cannot encode the gfn. */
  max_gfn: bigint;
  /** L2 is running (is_guest_mode). */
  guest_mode: boolean;
  apicv_active: boolean;
  /** Async PF enabled for the vCPU; gfns that already have an async PF pending (a repeat halts). */
  async_pf: boolean;
  async_pf_pending: bigint[];
  /** An mmu_notifier invalidation raced with the fault (mmu_invalidate_retry_gfn). */
  invalidation_race: boolean;
}
