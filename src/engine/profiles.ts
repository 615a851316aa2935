// Kernel profiles as data: a named set of behaviour switches ("patches"). A patch id names one
// behaviour and the commit that introduced it; the engine asks `has(profile, id)` at exactly the
// place the kernel changed. A historical bug is a profile with one fix switched off; a mutant is a
// plausible slip with no known commit. See ../shared/spec/svm.md §2 and §7.

export interface PatchInfo {
  id: string;
  /** What the patched (correct) kernel does. */
  title: string;
  /** Commit or mail the behaviour comes from. */
  source: string;
  /** The tree the patch is in: 'kvm-next' (stored kvm-x86), 'post-6.1' (dated after v6.1.0), 'unified' (proposal only). */
  since: 'pre-6.1' | 'post-6.1' | 'unified';
}

export const PATCHES: readonly PatchInfo[] = [
  // ---- fixes present in kvm-next ----
  { id: 'svm-vmcb12-cache-before-check', since: 'pre-6.1', title: 'checks and vmcb02 use one cached snapshot of vmcb12 controls', source: 'a58d9166a756 KVM: SVM: load control fields from VMCB12 before checking them (CVE-2021-29657)' },
  { id: 'svm-efer-svme-cached', since: 'pre-6.1', title: 'EFER/CR0/CR3/CR4/DR6/DR7 from the checked save cache, not re-read from vmcb12', source: '3c346c0c60ab KVM: SVM: ensure that EFER.SVME is set when running nested guest or on nested vmexit' },
  { id: 'svm-int-ctl-sanitize', since: 'pre-6.1', title: 'vmcb02.int_ctl takes only V_TPR/V_IRQ/V_INTR_PRIO/V_IGN_TPR (+vGIF/vNMI when nested) from vmcb12', source: '0f923e07124d KVM: nSVM: avoid picking up unsupported bits from L2 in int_ctl (CVE-2021-3653)' },
  { id: 'svm-vls-intercept', since: 'pre-6.1', title: 'VMLOAD/VMSAVE intercepted for L2 unless nested NPT and virtual VMLOAD/VMSAVE are both usable', source: 'c7dfa4009965 KVM: nSVM: always intercept VMLOAD/VMSAVE when nested (CVE-2021-3656)' },
  { id: 'svm-no-tlb-ctl-check', since: 'post-6.1', title: 'no consistency check on TLB_CONTROL (revert of 174a921b6975)', source: 'Revert "nSVM: Check for reserved encodings of TLB_CONTROL in nested VMCB" (Sean Christopherson, Jan 2024, Cc stable)' },
  { id: 'svm-check-hsave', since: 'pre-6.1', title: 'VMRUN #GPs when VM_HSAVE_PA was never set', source: 'fb79f566e4c9 KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN' },
  { id: 'svm-smm-l1-state-in-hsave', since: 'pre-6.1', title: 'L1 VMRUN state stashed in HSAVE+0x400 on SMI from L2 and restored on RSM', source: '37be407b2ce8 KVM: nSVM: Fix L1 state corruption upon return from SMM' },
  { id: 'svm-smm-restore-nested-ctl', since: 'pre-6.1', title: 'RSM into L2 reloads the nested controls from vmcb12', source: 'bb00bd9c0862 KVM: nSVM: Restore nested control upon leaving SMM' },
  { id: 'svm-vmrun-tf-db', since: 'pre-6.1', title: 'a single-stepped VMRUN queues #DB in nested_svm_vmexit', source: 'KVM: nSVM: If VMRUN is single-stepped, queue the #DB intercept in nested_svm_vmexit() (Krish Sadhukhan, 2021)' },
  { id: 'svm-check-vnmi', since: 'post-6.1', title: 'V_NMI_ENABLE requires the NMI intercept (C7)', source: 'nested vNMI series, 2023 (nested_vmcb_check_controls)' },
  { id: 'svm-check-gpat', since: 'post-6.1', title: 'gPAT checked when L2 has its own PAT (S11)', source: 'separate L2 gPAT series, kvm-x86 2026 (nested_vmcb_check_save check_gpat)' },
  { id: 'svm-gif-clear-on-invalid', since: 'post-6.1', title: 'an early consistency-check failure clears GIF', source: 'f85a6ce06e4a KVM: nSVM: Clear GIF on nested #VMEXIT(INVALID)' },
  { id: 'svm-rsm-checks', since: 'post-6.1', title: 'RSM re-checks the cached vmcb12 (nested_svm_check_cached_vmcb12)', source: '898a1751b620 (stable) KVM: SVM: check validity of VMCB controls when returning from SMM' },
  { id: 'svm-clear-eventinj-on-vmexit', since: 'post-6.1', title: 'vmcb12.event_inj/event_inj_err cleared on every #VMEXIT, INVALID included', source: 'c0095cef7303 (stable) KVM: nSVM: Clear EVENTINJ fields in vmcb12 on nested #VMEXIT' },
  { id: 'svm-clear-l1-l2-nmi-softirq', since: 'post-6.1', title: 'nmi_l1_to_l2 / soft_int_injected cleared on #VMEXIT and VMRUN failure', source: 'de6d8562a9cf (stable) KVM: nSVM: Clear tracking of L1->L2 NMI and soft IRQ on nested #VMEXIT' },
  { id: 'svm-check-ncr3', since: 'post-6.1', title: 'NP_ENABLE with nCR3 beyond MAXPHYADDR fails VMRUN (C3b)', source: 'ddb188b88d55 (stable) KVM: nSVM: Add missing consistency check for nCR3 validity' },
  { id: 'svm-check-efer-cr0-cr4-cs', since: 'post-6.1', title: 'LME&&PG&&CS.L&&CS.D fails VMRUN (S8)', source: '23ccf4affa6c (stable) KVM: nSVM: Add missing consistency check for EFER, CR0, CR4, and CS' },
  { id: 'svm-check-eventinj', since: 'post-6.1', title: 'EVENTINJ with an undefined type or a non-exception vector fails VMRUN (C8)', source: 'KVM: nSVM: Add missing consistency check for EVENTINJ (Yosry Ahmed, 2026)' },
  { id: 'svm-drop-np-enable-host-check', since: 'post-6.1', title: 'VMRUN does not fail because host npt_enabled is off (C3a dropped)', source: 'KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE (Yosry Ahmed, 2026)' },
  { id: 'svm-exit-code-64bit', since: 'post-6.1', title: 'VMEXIT_INVALID written as the 64-bit value -1', source: 'svm_is_vmrun_failure / u64 exit_code series (Sean Christopherson, 2025-2026); stable: exit_code_hi = -1u' },
  { id: 'svm-vmcb12-map-gp', since: 'post-6.1', title: 'VMRUN whose vmcb12 cannot be mapped never retires silently', source: 'ddc242a7bb44 (stable) KVM: nSVM: Always inject a #GP if mapping VMCB12 fails on nested VMRUN' },
  { id: 'svm-vmexit-triple-fault', since: 'post-6.1', title: '#VMEXIT is all-or-nothing: map or host-CR3 failure → triple fault, exit completes', source: 'KVM: nSVM: Triple fault if mapping VMCB12 / restoring host CR3 fails on nested #VMEXIT (Yosry Ahmed, 2026)' },
  { id: 'svm-cache-all-vmcb12-fields', since: 'post-6.1', title: 'segments/RFLAGS/RIP/RSP/RAX/CR2 come from the cache; vmcb12 read once', source: 'KVM: nSVM: Cache all used fields from VMCB12 / Restrict mapping VMCB12 (Yosry Ahmed, 2026)' },
  { id: 'svm-sanitize-control-cache', since: 'post-6.1', title: 'reserved bits of int_vector, int_state, event_inj, tlb_ctl dropped when caching', source: 'KVM: nSVM: Sanitize control fields copied from VMCB12 (Yosry Ahmed, 2026)' },
  { id: 'svm-set-nested-state-dirty', since: 'post-6.1', title: 'SET_NESTED_STATE marks all of vmcb02 dirty', source: '15003179c74d (stable) KVM: nSVM: Mark all of vmcb02 dirty when restoring nested state' },
  { id: 'svm-set-nested-state-avic-inhibit', since: 'post-6.1', title: 'SET_NESTED_STATE into guest mode inhibits AVIC', source: '263640149d81 (stable) KVM: nSVM: Ensure AVIC is inhibited when restoring a vCPU to guest mode' },
  { id: 'svm-vmexit-cr2-from-arch', since: 'post-6.1', title: 'vmcb12.cr2 on #VMEXIT is arch.cr2, not vmcb02.save.cr2', source: 'd218a0e8a63c (stable) KVM: nSVM: Use vcpu->arch.cr2 when updating vmcb12 on nested #VMEXIT' },
  { id: 'svm-l2-vmmcall-ud', since: 'post-6.1', title: 'an L2 VMMCALL that vmcb12 does not intercept gets #UD (vmmcall_interception), never kvm_emulate_hypercall', source: 'c36991c6f8d2 (kvm-x86) KVM: nSVM: Raise #UD if unhandled VMMCALL isn\'t intercepted by L1 (Kevin Cheng, 2026; Fixes 3f4a812edf5c)' },
  { id: 'svm-l2-vmmcall-always-intercept', since: 'post-6.1', title: 'vmcb02 keeps L0\'s VMMCALL intercept while L2 runs (recalc_intercepts no longer clears it)', source: '33d3617a52f9 (kvm-x86) KVM: nSVM: Always intercept VMMCALL when L2 is active (Sean Christopherson, 2026; Fixes 0d945bd93511)' },
  { id: 'svm-sync-int-state-to-cache', since: 'post-6.1', title: 'nested_sync_control_from_vmcb02 copies vmcb02.int_state (interrupt shadow) into the vmcb12 cache after every L2 run', source: '1709418535a8 (stable) KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN of L2 (Yosry Ahmed, 2026; Fixes cc440cdad5b7)' },
  { id: 'svm-sync-next-rip-to-cache', since: 'post-6.1', title: 'svm_vcpu_run copies vmcb02.next_rip into the vmcb12 cache after every L2 run (after svm_complete_interrupts)', source: '702ce67817de (stable) KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2 (Yosry Ahmed, 2026; Fixes cc440cdad5b7)' },
  // ---- nested VMX (spec vmx-mmu.md §6) ----
  { id: 'vmx-insn-cpl-check', since: 'pre-6.1', title: 'VMX instructions #GP(0) at CPL > 0 (nested_vmx_check_permission)', source: '727ba748e110 kvm: nVMX: Enforce cpl=0 for VMX instructions (CVE-2018-12904)' },
  { id: 'vmx-check-kvm-cr4-reserved', since: 'pre-6.1', title: 'guest and host CR4 checked against KVM\'s reserved CR4 bits, not only CR4_FIXED0/1', source: 'KVM: nVMX: Account for KVM reserved CR4 bits in consistency checks (Sean Christopherson, Jun 2022; Fixes 3899152ccbf4)' },
  { id: 'vmx-check-cr0-pg-pe-ia32e', since: 'post-6.1', title: 'guest CR0.PG without PE, and IA-32e mode without CR4.PAE or CR0.PG, fail entry (exit 33)', source: '112e66017bff KVM: nVMX: add missing consistency checks for CR0 and CR4 (CVE-2023-30456)' },
  { id: 'vmx-check-msr-list-count', since: 'post-6.1', title: 'an MSR load/store count above (MISC[27:25]+1)*512 fails VM entry with VMfail 7 before any load', source: 'KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks (2025)' },
  { id: 'vmx-check-error-code-high-bits', since: 'pre-6.1', title: 'an injected exception error code with bits 31:16 set fails VM entry with VMfail 7', source: 'KVM: nVMX: Drop bits 31:16 when shoving exception error code into VMCS / error-code consistency check (Sean Christopherson, 2022; spec §6 #16)' },
  { id: 'vmx-x2apic-msr-bitmap-guard', since: 'pre-6.1', title: 'x2APIC MSRs pass through vmcs02\'s MSR bitmap only under vmcs12 virtualize-x2APIC-mode', source: 'KVM: x86: nVMX: close leak of L0\'s x2APIC MSRs (CVE-2019-3887)' },
  { id: 'vmx-free-nested-cancels-timer', since: 'pre-6.1', title: 'free_nested cancels the emulated preemption timer', source: 'ecec76885bcf KVM: nVMX: unconditionally cancel preemption timer in free_nested (CVE-2019-7221)' },
  { id: 'vmx-timer-armed-after-entry', since: 'pre-6.1', title: 'the preemption timer is started only after nested_vmx_enter_non_root_mode succeeded', source: 'nested_vmx_enter_non_root_mode: "start the timer only after success" (spec §2.3)' },
  // ---- nested paging and fault synthesis (spec vmx-mmu.md §3–4, svm.md §5) ----
  { id: 'mmu-x86-exception-u64', since: 'post-6.1', title: 'x86_exception.error_code is u64, so PFERR_GUEST_{PAGE,FINAL} (bits 33/32) survive to the injector', source: '297c2fe249db KVM: SVM: Fix nested NPF injection to set PFERR_GUEST_{PAGE,FINAL}_MASK (part 1: widen error_code)' },
  { id: 'mmu-walker-fault-stage', since: 'post-6.1', title: 'walk_addr_generic ORs GUEST_PAGE into a failed paging-structure translation and GUEST_FINAL into a failed final translation', source: '297c2fe249db (walk_addr_generic: access | PFERR_GUEST_PAGE / PFERR_GUEST_FINAL)' },
  { id: 'mmu-ept-qual-raw-rwx', since: 'pre-6.1', title: 'EPT-violation qualification bits 3–5 are the raw EPTE R/W/X ANDed over the walk, not ACC order', source: '0780516a18f8 KVM: nVMX: fix EPT permissions as reported in exit qualification' },
  { id: 'mmu-ept-track-read', since: 'pre-6.1', title: 'EPT read permission tracked: a read through an execute-only EPTE faults', source: 'kvm: mmu: track read permission explicitly for shadow EPT page tables (Bandan Das, 2016)' },
  { id: 'mmu-ept-qual-one-access', since: 'post-6.1', title: 'the synthesized qualification reports exactly the access type (read only for reads and paging-structure accesses)', source: 'walk_addr_generic NEW: ACC_WRITE / ACC_INSTR / ACC_READ by access (the old walker set ACC_READ whenever user_fault, i.e. for every nested access)' },
  { id: 'svm-npf-inject-stage', since: 'post-6.1', title: 'nested_svm_inject_npf_exit takes the fault stage and exit_info_2 from the walker for synthesized faults (from_hardware = false), from vmcb02 only for hardware #NPFs', source: '297c2fe249db + fe0b872d7500 KVM: x86: Tell ->inject_page_fault() whether or a fault came from hardware' },
  { id: 'vmx-ept-gva-bits-synthesized', since: 'post-6.1', title: 'nested_ept_inject_page_fault synthesizes GVA_IS_VALID/GVA_TRANSLATED for software-found faults instead of copying the stale EXIT_QUALIFICATION', source: '96b067b59ad9 KVM: VMX: Synthesize nested EPT violation GVA_IS_VALID/GVA_TRANSLATED bits' },
  { id: 'svm-npt-pae-pdptr-in-page', since: 'post-6.1', title: 'nested_svm_get_tdp_pdptr reads PDPTE i at (nCR3 & GENMASK(11,5)) + 8*i', source: 'CVE-2024-50115 KVM: nSVM: Ignore nCR3[4:0] when loading PDPTEs from memory' },
  { id: 'vmx-ept-invalidate-prev-roots', since: 'pre-6.1', title: 'nested_ept_inject_page_fault invalidates the fault GPA in every cached previous root with the same EP4TA', source: 'KVM: x86: Sync SPTEs when injecting page/EPT fault into L1 (~v5.8; nested_ept_invalidate_addr)' },
  { id: 'nested-io-bitmap-every-port', since: 'pre-6.1', title: 'an L2 IN/OUT of 2 or 4 bytes exits to L1 if the permission bit of any port it touches is set (VMX: or if it wraps past 0xffff)', source: 'APM vol. 2 §15.10.1 / SDM vol. 3C §26.1.3; KVM nested_svm_intercept_ioio (mask over size bits), nested_vmx_check_io_bitmaps' },
  { id: 'mmu-stage-bits-by-name', since: 'post-6.1', title: 'a failed paging-structure translation is tagged PFERR_GUEST_PAGE (bit 33), a failed final one PFERR_GUEST_FINAL (bit 32)', source: 'APM vol. 2 §15.25.6 (EXITINFO1 bits 32/33); 297c2fe249db' },
  { id: 'vmx-pfec-match-rule', since: 'pre-6.1', title: 'an L2 #PF exits to L1 iff ((PFEC & MASK) == MATCH) equals exception-bitmap bit 14', source: 'SDM vol. 3C §25.2; KVM nested_vmx_is_page_fault_vmexit' },
  { id: 'mmu-smap-implicit-access', since: 'pre-6.1', title: 'an implicit supervisor access is checked by SMAP even with EFLAGS.AC=1 (not_smap = AC && !implicit)', source: '4f4aa80e3b88 KVM: X86: Handle implicit supervisor access with SMAP (Lai Jiangshan, 2022; adds PFERR_IMPLICIT_ACCESS, permission_fault)' },
  { id: 'nested-no-emulate-intercepted', since: 'pre-6.1', title: 'an L2 instruction L1 intercepts is reflected to L1 and never emulated by L0', source: '07721feee46b KVM: nVMX: Don\'t emulate instructions in guest mode (CVE-2020-2732)' },
  // ---- KVM MMU page-fault path: "KVM: x86/mmu: Page fault and MMIO cleanups" v2 (Paolo Bonzini, May 2024; spec vmx-mmu.md §5) ----
  { id: 'mmu-pf-error-code-u64', since: 'post-6.1', title: 'kvm_mmu_page_fault takes the full 64-bit error code (GUEST_*, PRIVATE_ACCESS survive)', source: 'c9710130ccae KVM: x86/mmu: Pass full 64-bit error code when handling page faults (Isaku Yamahata)' },
  { id: 'mmu-legacy-pf-upper-bits', since: 'post-6.1', title: 'kvm_handle_page_fault WARNs on and drops bits 63:32 of a legacy #PF error code', source: '7bdbb820fee4 KVM: x86/mmu: WARN if upper 32 bits of legacy #PF error code are non-zero' },
  { id: 'mmu-npf-synthetic-sanity', since: 'post-6.1', title: 'npf_interception WARNs on and clears KVM-synthetic PFERR bits in a hardware #NPF error code', source: 'dee281e4b435 KVM: x86: Move synthetic PFERR_* sanity checks to SVM\'s #NPF handler' },
  { id: 'mmu-private-emulate-efault', since: 'post-6.1', title: 'a private fault that would be emulated exits to userspace with -EFAULT and KVM_EXIT_MEMORY_FAULT', source: 'KVM: x86/mmu: Exit to userspace with -EFAULT if private fault hits emulation' },
  { id: 'mmu-private-rsvd-no-mmio-cache', since: 'post-6.1', title: 'a reserved-bit fault on a private access WARNs and returns -EFAULT without consulting the MMIO cache', source: '07702e5a6d6d KVM: x86/mmu: WARN and skip MMIO cache on private, reserved page faults' },
  { id: 'mmu-private-check-before-slot', since: 'post-6.1', title: 'kvm_faultin_pfn checks private vs. shared before any memslot check', source: '44f42ef37deb KVM: x86/mmu: Move private vs. shared check above slot validity checks' },
  { id: 'mmu-l2-internal-slots-mapped', since: 'post-6.1', title: 'in guest mode only the APIC-access internal slot takes the no-slot path; other internal slots are mapped', source: '5bd74f6eecd5 KVM: x86/mmu: Don\'t force emulation of L2 accesses to non-APIC internal slots (Fixes 3a2936dedd20)' },
  { id: 'mmu-noslot-private-efault', since: 'post-6.1', title: 'kvm_handle_noslot_fault refuses a private access (memory-fault exit, -EFAULT)', source: 'bde9f9d27e2b KVM: x86/mmu: Explicitly disallow private accesses to emulated MMIO' },
  { id: 'mmu-faultin-no-noslot-pfn', since: 'post-6.1', title: 'slot checks live in kvm_faultin_pfn (no-slot faults through kvm_handle_noslot_fault), and __kvm_faultin_pfn never returns a noslot pfn', source: 'cd272fc439b5 KVM: x86/mmu: Move slot checks from __kvm_faultin_pfn() to kvm_faultin_pfn(); 2b1f435505ae Sanity check that __kvm_faultin_pfn() doesn\'t create noslot pfns' },
  { id: 'mmu-pf-error-pfn-hva', since: 'post-6.1', title: 'kvm_page_fault.pfn / .hva start as KVM_PFN_ERR_FAULT / KVM_HVA_ERR_BAD, and a no-slot fault sets hva = KVM_HVA_ERR_BAD', source: 'f3310e622f77 KVM: x86/mmu: Initialize kvm_page_fault\'s pfn and hva to error values; 36d4492765fe Set kvm_page_fault.hva to KVM_HVA_ERR_BAD for "no slot" faults' },
  { id: 'mmu-async-pf-not-private', since: 'post-6.1', title: 'a private fault never goes async (kvm_arch_async_page_ready WARNs on PRIVATE_ACCESS)', source: 'cd389f507003 KVM: x86/mmu: check for invalid async page faults involving private memory' },
  // ---- the proposed unification (spec §2.5): not in any stored tree ----
  { id: 'svm-unified-vmrun-failure', since: 'unified', title: 'every VMRUN failure goes through nested_svm_vmrun_error_vmexit and __nested_svm_vmexit, before the switch to vmcb02', source: '[PATCH v5/v6] KVM: nSVM: Unify handling of VMRUN failures with proper cleanup (Yosry Ahmed, 2026)' },
  { id: 'svm-check-hcr0-pg-np', since: 'unified', title: 'NP_ENABLE with L1 CR0.PG clear fails VMRUN (C9, APM 15.25.3)', source: '[PATCH v6 20/31] KVM: nSVM: Add missing consistency check for hCR0.PG and NP_ENABLE' },
  { id: 'svm-l2-paging-mode-for-cr3', since: 'unified', title: 'nested_svm_load_cr3 sees L2 CR0/CR4/EFER (split of prepare_save found in v4 review)', source: 'review of [PATCH v4] KVM: nSVM: Call nested_svm_init_mmu_context() before switching to VMCB02' },
];

export type PatchId = string;

export type ProfileKind = 'kernel' | 'historical' | 'mutant';

export interface Profile {
  name: string;
  /** For bug profiles: the nested flavour the bug lives in (kernel profiles cover both). */
  arch?: 'svm' | 'vmx' | 'mmu';
  kind: ProfileKind;
  /** True for profiles that model a bug: a fuzz run against them is expected to fail. */
  bug: boolean;
  title: string;
  /** For bug profiles: the commit that fixed it (historical) or the rule the slip breaks (mutant). */
  source?: string;
  /** The properties expected to catch it (bug profiles). */
  caughtBy?: string[];
  patches: ReadonlySet<PatchId>;
}

export function has(p: Profile, id: PatchId): boolean {
  return p.patches.has(id);
}

/** A mutant profile removes checks by id: patches named `drop-check:<id>`. */
const droppedCache = new WeakMap<Profile, ReadonlySet<string>>();

export function profileDropped(p: Profile): ReadonlySet<string> {
  const hit = droppedCache.get(p);
  if (hit) return hit;
  const out = new Set<string>();
  for (const id of p.patches) if (id.startsWith('drop-check:')) out.add(id.slice('drop-check:'.length));
  droppedCache.set(p, out);
  return out;
}
