// The profile registry, keyed by the name users type (`--profile`, `--compare`). Kernel profiles
// are sets of patches; each bug profile is a kernel with one fix switched off (historical, citing
// the fix) or one check dropped (mutant, naming the rule it breaks). Spec: svm.md §2.5, §7.

import { PATCHES, type Profile } from './profiles.ts';

const ids = (since: string[]) => PATCHES.filter((p) => since.includes(p.since)).map((p) => p.id);

const KVM_NEXT = new Set(ids(['pre-6.1', 'post-6.1']));
const UNIFIED = new Set(ids(['pre-6.1', 'post-6.1', 'unified']));

function without(base: Set<string>, ...drop: string[]): Set<string> {
  const s = new Set(base);
  for (const d of drop) {
    if (!s.delete(d)) throw new Error(`profile_list: patch ${d} not in base`);
  }
  return s;
}

function withAdded(base: Set<string>, ...add: string[]): Set<string> {
  const s = new Set(base);
  for (const a of add) s.add(a);
  return s;
}

const kernels: Profile[] = [
  { name: 'kvm-next', kind: 'kernel', bug: false, title: 'kvm-x86 next as stored (nested.c @1a27afa0)', patches: KVM_NEXT },
  { name: 'unified', kind: 'kernel', bug: false, title: 'kvm-next + "Unify handling of VMRUN failures with proper cleanup" (v5/v6 proposal) + hCR0.PG check', patches: UNIFIED },
  {
    name: 'unified-v4', kind: 'kernel', bug: true, title: 'unified as posted in v4: nested_svm_load_cr3 judged on L1\'s paging mode',
    source: 'review of [PATCH v4] KVM: nSVM: Call nested_svm_init_mmu_context() before switching to VMCB02',
    caughtBy: ['profile-equivalence', 'vmrun-verdict-matches-apm'], patches: without(UNIFIED, 'svm-l2-paging-mode-for-cr3'),
  },
  {
    name: 'linux-6.1', kind: 'kernel', bug: true, title: 'kvm-next with every fix dated after v6.1.0 switched off',
    source: 'torvalds/linux ~v6.1 (nested.c @00f08d99)', caughtBy: ['vmrun-failure-clean', 'gif-semantics', 'vmrun-verdict-matches-apm', 'vmlaunch-verdict-matches-sdm'],
    patches: new Set(ids(['pre-6.1'])),
  },
];

interface BugDef {
  name: string;
  /** The nested flavour the bug is in (default 'svm'). */
  arch?: 'svm' | 'vmx' | 'mmu';
  off?: string;
  drop?: string;
  kind: 'historical' | 'mutant';
  title: string;
  source: string;
  caughtBy: string[];
}

const BUGS: BugDef[] = [
  { name: 'cve-2021-29657', off: 'svm-vmcb12-cache-before-check', kind: 'historical', title: 'vmcb12 controls checked in guest memory, then re-read (double fetch)', source: 'a58d9166a756', caughtBy: ['checked-is-run'] },
  { name: 'efer-svme-toctou', off: 'svm-efer-svme-cached', kind: 'historical', title: 'EFER/CRs re-read from vmcb12 after the check', source: '3c346c0c60ab', caughtBy: ['checked-is-run'] },
  { name: 'cve-2021-3653', off: 'svm-int-ctl-sanitize', kind: 'historical', title: 'vmcb02.int_ctl takes AVIC_ENABLE and other L0-owned bits from vmcb12', source: '0f923e07124d', caughtBy: ['vmcb02-sanitized'] },
  { name: 'cve-2021-3656', off: 'svm-vls-intercept', kind: 'historical', title: 'virtual VMLOAD/VMSAVE enabled for L2 without nested NPT', source: 'c7dfa4009965', caughtBy: ['vmcb02-sanitized'] },
  { name: 'tlb-ctl-check', off: 'svm-no-tlb-ctl-check', kind: 'historical', title: 'VMRUN fails for TLB_CONTROL ∉ {0,1} (174a921b6975, reverted)', source: 'Revert of 174a921b6975 (Jan 2024)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'gif-not-cleared-on-invalid', off: 'svm-gif-clear-on-invalid', kind: 'historical', title: 'early VMEXIT_INVALID leaves GIF as it was', source: 'f85a6ce06e4a', caughtBy: ['gif-semantics', 'vmrun-failure-clean'] },
  { name: 'rsm-no-checks', off: 'svm-rsm-checks', kind: 'historical', title: 'RSM re-enters L2 from an unchecked vmcb12', source: '898a1751b620 (stable)', caughtBy: ['entry-path-parity'] },
  { name: 'smm-l1-state-corruption', off: 'svm-smm-l1-state-in-hsave', kind: 'historical', title: 'SMM handler clobbers L1 state kept in vmcb01', source: '37be407b2ce8', caughtBy: ['exit-roundtrip'] },
  { name: 'smm-nested-ctl-not-restored', off: 'svm-smm-restore-nested-ctl', kind: 'historical', title: 'RSM after migration in SMM runs L2 with empty nested controls', source: 'bb00bd9c0862', caughtBy: ['entry-path-parity'] },
  { name: 'eventinj-not-cleared', off: 'svm-clear-eventinj-on-vmexit', kind: 'historical', title: 'vmcb12.event_inj keeps V after #VMEXIT / VMEXIT_INVALID', source: 'c0095cef7303 (stable)', caughtBy: ['vmrun-failure-clean'] },
  { name: 'nmi-softirq-tracking-leak', off: 'svm-clear-l1-l2-nmi-softirq', kind: 'historical', title: 'nmi_l1_to_l2 / soft_int_injected survive a VMRUN failure', source: 'de6d8562a9cf (stable)', caughtBy: ['vmrun-failure-clean'] },
  { name: 'no-ncr3-check', off: 'svm-check-ncr3', kind: 'historical', title: 'nCR3 beyond MAXPHYADDR accepted with NP_ENABLE', source: 'ddb188b88d55 (stable)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'no-cs-l-d-check', off: 'svm-check-efer-cr0-cr4-cs', kind: 'historical', title: 'LME && PG && CS.L && CS.D accepted', source: '23ccf4affa6c (stable)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'no-eventinj-check', off: 'svm-check-eventinj', kind: 'historical', title: 'EVENTINJ with an undefined type or non-exception vector accepted', source: 'KVM: nSVM: Add missing consistency check for EVENTINJ (2026)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'np-enable-host-check', off: 'svm-drop-np-enable-host-check', kind: 'historical', title: 'VMRUN fails when vmcb12 sets NP_ENABLE and the host has npt=0', source: 'KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE (2026)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'exit-code-hi-zero', off: 'svm-exit-code-64bit', kind: 'historical', title: 'VMEXIT_INVALID written with bits 63:32 clear', source: 'svm_is_vmrun_failure / u64 exit_code series', caughtBy: ['vmrun-failure-clean'] },
  { name: 'hsave-unchecked', off: 'svm-check-hsave', kind: 'historical', title: 'VMRUN proceeds with VM_HSAVE_PA never set', source: 'fb79f566e4c9', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'vmcb12-map-silent-noop', off: 'svm-vmcb12-map-gp', kind: 'historical', title: 'unmappable vmcb12 makes VMRUN a silent no-op', source: 'ddc242a7bb44 (stable)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'vmexit-half-done', off: 'svm-vmexit-triple-fault', kind: 'historical', title: 'a failed host-CR3 reload or an unmappable vmcb12 aborts #VMEXIT half way', source: 'KVM: nSVM: Triple fault if restore host CR3 fails / if mapping VMCB12 fails on nested #VMEXIT (2026)', caughtBy: ['exit-roundtrip', 'vmrun-failure-clean'] },
  { name: 'set-nested-state-not-dirty', off: 'svm-set-nested-state-dirty', kind: 'historical', title: 'vmcb02 not marked dirty after SET_NESTED_STATE', source: '15003179c74d (stable)', caughtBy: ['set-nested-state-consistent'] },
  { name: 'set-nested-state-avic-active', off: 'svm-set-nested-state-avic-inhibit', kind: 'historical', title: 'AVIC left active for L2 after SET_NESTED_STATE', source: '263640149d81 (stable)', caughtBy: ['set-nested-state-consistent'] },
  { name: 'cr2-from-vmcb02', off: 'svm-vmexit-cr2-from-arch', kind: 'historical', title: 'vmcb12.cr2 on #VMEXIT taken from a stale vmcb02.save.cr2', source: 'd218a0e8a63c (stable)', caughtBy: ['exit-roundtrip'] },
  { name: 'vmrun-tf-no-db', off: 'svm-vmrun-tf-db', kind: 'historical', title: 'a single-stepped VMRUN gets no #DB after #VMEXIT', source: 'Krish Sadhukhan 2021, "queue the #DB intercept in nested_svm_vmexit()"', caughtBy: ['exit-roundtrip'] },
  { name: 'no-vmcb12-cache-all', off: 'svm-cache-all-vmcb12-fields', kind: 'historical', title: 'CS/segments re-read from vmcb12 after the CS.L/D check', source: 'KVM: nSVM: Cache all used fields from VMCB12 (2026)', caughtBy: ['checked-is-run'] },
  { name: 'l2-vmmcall-hypercall', off: 'svm-l2-vmmcall-ud', kind: 'historical', title: 'an L2 VMMCALL that L1 does not intercept runs as an L0 (KVM) hypercall: RAX = its return value, RIP += 3, L2 keeps running', source: 'c36991c6f8d2 KVM: nSVM: Raise #UD if unhandled VMMCALL isn\'t intercepted by L1 (kvm-x86, 2026)', caughtBy: ['l2-vmmcall-routing'] },
  { name: 'l2-vmmcall-ud-loop', off: 'svm-l2-vmmcall-always-intercept', kind: 'historical', title: 'vmcb02 drops the VMMCALL intercept: an L2 VMMCALL L1 does not intercept #UDs in hardware and L0\'s emulator restarts it forever', source: '33d3617a52f9 KVM: nSVM: Always intercept VMMCALL when L2 is active (kvm-x86, 2026)', caughtBy: ['l2-vmmcall-routing'] },
  { name: 'int-state-not-synced', off: 'svm-sync-int-state-to-cache', kind: 'historical', title: 'the vmcb12 cache keeps vmcb12\'s int_state after L2 ran: KVM_GET_NESTED_STATE loses an interrupt shadow', source: '1709418535a8 (stable) KVM: nSVM: Sync interrupt shadow to cached vmcb12 after VMRUN of L2', caughtBy: ['nested-cache-synced'] },
  { name: 'next-rip-not-synced', off: 'svm-sync-next-rip-to-cache', kind: 'historical', title: 'the vmcb12 cache keeps vmcb12\'s next_rip after L2 ran: KVM_GET_NESTED_STATE reports a stale NextRIP', source: '702ce67817de (stable) KVM: nSVM: Sync NextRIP to cached vmcb12 after VMRUN of L2', caughtBy: ['nested-cache-synced'] },
  { name: 'no-control-sanitize', off: 'svm-sanitize-control-cache', kind: 'historical', title: 'reserved bits of event_inj/int_state/int_vector/tlb_ctl reach vmcb02', source: 'KVM: nSVM: Sanitize control fields copied from VMCB12 (2026)', caughtBy: ['vmcb02-sanitized'] },
  // ---- nested VMX (spec vmx-mmu.md §6) ----
  { name: 'cve-2018-12904', arch: 'vmx', off: 'vmx-insn-cpl-check', kind: 'historical', title: 'VMLAUNCH/VMRESUME (and every VMX instruction) emulated for L1 at CPL > 0', source: '727ba748e110', caughtBy: ['vmlaunch-verdict-matches-sdm', 'vmlaunch-outcome-order'] },
  { name: 'kvm-reserved-cr4', arch: 'vmx', off: 'vmx-check-kvm-cr4-reserved', kind: 'historical', title: 'guest/host CR4 bits allowed by CR4_FIXED1 but reserved by KVM (guest CPUID) accepted', source: 'KVM: nVMX: Account for KVM reserved CR4 bits in consistency checks (2022)', caughtBy: ['vmlaunch-verdict-matches-sdm'] },
  { name: 'cve-2023-30456', arch: 'vmx', off: 'vmx-check-cr0-pg-pe-ia32e', kind: 'historical', title: 'L2 entered with CR0.PG && !PE, or IA-32e mode without CR4.PAE / CR0.PG, hidden from the CPU by KVM\'s forced CR0/CR4 bits', source: '112e66017bff', caughtBy: ['vmlaunch-verdict-matches-sdm', 'vmlaunch-outcome-order'] },
  { name: 'msr-list-count-unchecked', arch: 'vmx', off: 'vmx-check-msr-list-count', kind: 'historical', title: 'an MSR load/store count above the advertised maximum passes the consistency checks', source: 'KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks (2025)', caughtBy: ['vmlaunch-verdict-matches-sdm'] },
  { name: 'error-code-high-bits', arch: 'vmx', off: 'vmx-check-error-code-high-bits', kind: 'historical', title: 'an injected error code with bits 31:16 set reaches the CPU (late VMfail after L2 state and MSRs were loaded)', source: 'spec §6 #16 (Sean Christopherson, 2022)', caughtBy: ['vmlaunch-outcome-order', 'vmfail-no-side-effects'] },
  { name: 'cve-2019-3887', arch: 'vmx', off: 'vmx-x2apic-msr-bitmap-guard', kind: 'historical', title: 'vmcs02 passes x2APIC MSRs through without virtualize-x2APIC mode: L2 reaches L0\'s x2APIC', source: 'KVM: x86: nVMX: close leak of L0\'s x2APIC MSRs (CVE-2019-3887)', caughtBy: ['x2apic-msrs-intercepted'] },
  { name: 'cve-2019-7221', arch: 'vmx', off: 'vmx-free-nested-cancels-timer', kind: 'historical', title: 'the emulated preemption timer stays armed after the vCPU is freed in guest mode', source: 'ecec76885bcf', caughtBy: ['preemption-timer-lifetime'] },
  { name: 'mutant-timer-armed-early', arch: 'vmx', off: 'vmx-timer-armed-after-entry', kind: 'mutant', title: 'the preemption timer is armed before the entry succeeds and survives a failed entry', source: 'breaks spec §2.3 "start the preemption timer only after success"', caughtBy: ['preemption-timer-lifetime'] },
  { name: 'mutant-no-vpid-check', arch: 'vmx', drop: 'vpid-zero', kind: 'mutant', title: 'ENABLE_VPID with VPID 0 accepted', source: 'breaks SDM §27.2.1.1 "If the enable VPID VM-execution control is 1, the value of the VPID VM-execution control field must not be 0000H"', caughtBy: ['vmlaunch-verdict-matches-sdm'] },
  { name: 'mutant-no-host-tr-check', arch: 'vmx', drop: 'host-tr-selector-zero', kind: 'mutant', title: 'a null host TR selector accepted', source: 'breaks SDM §27.2.3 "The selector field for TR cannot be 0000H"', caughtBy: ['vmlaunch-verdict-matches-sdm'] },
  { name: 'mutant-no-activity-state-check', arch: 'vmx', drop: 'guest-activity-state-invalid', kind: 'mutant', title: 'activity state SHUTDOWN (not advertised) accepted', source: 'breaks SDM §27.3.1.5 (activity state must be one the MISC MSR advertises)', caughtBy: ['vmlaunch-verdict-matches-sdm'] },
  // ---- nested paging and fault synthesis (spec svm.md §5, vmx-mmu.md §3–4, §6) ----
  { name: 'npf-stage-hardcoded', arch: 'mmu', off: 'svm-npf-inject-stage', kind: 'historical', title: 'a synthesized #NPF gets exit_info_1 = 1 << 32 (FINAL) whatever failed, and keeps a stale #NPF\'s exit_info_2', source: '297c2fe249db + fe0b872d7500', caughtBy: ['npf-fault-stage-exact', 'npf-address-from-walker'] },
  { name: 'ept-gva-bits-stale', arch: 'mmu', off: 'vmx-ept-gva-bits-synthesized', kind: 'historical', title: 'a synthesized EPT violation takes GVA_IS_VALID/GVA_TRANSLATED from vmcs02\'s stale EXIT_QUALIFICATION', source: '96b067b59ad9', caughtBy: ['ept-qual-never-stale', 'ept-gva-bits'] },
  { name: 'x86-exception-u16', arch: 'mmu', off: 'mmu-x86-exception-u64', kind: 'historical', title: 'x86_exception.error_code is 16 bits wide: PFERR_GUEST_{PAGE,FINAL} are lost before the injector', source: '297c2fe249db (error_code widened to u64)', caughtBy: ['error-code-64bit', 'npf-fault-stage-exact'] },
  { name: 'walker-no-fault-stage', arch: 'mmu', off: 'mmu-walker-fault-stage', kind: 'historical', title: 'walk_addr_generic does not record which nested translation (page table or final) failed', source: '297c2fe249db', caughtBy: ['error-code-64bit', 'npf-fault-stage-exact'] },
  { name: 'ept-qual-acc-order', arch: 'mmu', off: 'mmu-ept-qual-raw-rwx', kind: 'historical', title: 'EPT-violation qualification bits 3–5 in ACC order (exec, write, user) instead of the EPTE\'s R/W/X', source: '0780516a18f8', caughtBy: ['walker-matches-spec'] },
  { name: 'ept-read-not-tracked', arch: 'mmu', off: 'mmu-ept-track-read', kind: 'historical', title: 'EPT read permission assumed: a read through an execute-only EPTE does not fault', source: 'kvm: mmu: track read permission explicitly for shadow EPT page tables (2016)', caughtBy: ['walker-matches-spec'] },
  { name: 'cve-2024-50115', arch: 'mmu', off: 'svm-npt-pae-pdptr-in-page', kind: 'historical', title: 'nested PAE PDPTEs read at offset_in_page(nCR3) + 8*i: nCR3[4:0] shifts which entries L2 translates through', source: 'CVE-2024-50115 KVM: nSVM: Ignore nCR3[4:0] when loading PDPTEs from memory', caughtBy: ['walker-matches-spec'] },
  { name: 'cve-2020-2732', arch: 'mmu', off: 'nested-no-emulate-intercepted', kind: 'historical', title: 'L0 emulates an L2 INS/OUTS whose port L1 intercepts (after also reflecting the exit)', source: '07721feee46b KVM: nVMX: Don\'t emulate instructions in guest mode', caughtBy: ['intercepted-never-emulated'] },
  { name: 'ept-qual-read-always', arch: 'mmu', off: 'mmu-ept-qual-one-access', kind: 'historical', title: 'the synthesized qualification reports a read for every nested access (write and fetch faults too)', source: 'old walker: ACC_READ whenever user_fault (spec §6 #21)', caughtBy: ['ept-gva-bits'] },
  { name: 'ept-prev-roots-not-synced', arch: 'mmu', off: 'vmx-ept-invalidate-prev-roots', kind: 'historical', title: 'only the current shadow-EPT root is synced on nested EPT injection: a cached previous root with the same EP4TA keeps the faulting GPA', source: 'KVM: x86: Sync SPTEs when injecting page/EPT fault into L1 (Junaid Shahid / Sean Christopherson, ~v5.8); spec vmx-mmu.md §6 #14', caughtBy: ['ept-prev-roots-synced'] },
  { name: 'mutant-io-bitmap-first-port', arch: 'mmu', off: 'nested-io-bitmap-every-port', kind: 'mutant', title: 'L1\'s I/O permission bitmap is tested for the first port of a multi-byte access only', source: 'breaks APM §15.10.1 ("all the bits for the ports accessed are checked") / SDM §26.1.3', caughtBy: ['l2-exit-routing'] },
  { name: 'mutant-npf-stage-swapped', arch: 'mmu', off: 'mmu-stage-bits-by-name', kind: 'mutant', title: 'the walker tags a failed paging-structure translation GUEST_FINAL and a failed final one GUEST_PAGE', source: 'breaks APM §15.25.6 (EXITINFO1 bit 32: final translation, bit 33: guest page tables)', caughtBy: ['npf-fault-stage-exact'] },
  { name: 'mutant-smap-ignores-implicit', arch: 'mmu', off: 'mmu-smap-implicit-access', kind: 'mutant', title: 'permission_fault lets EFLAGS.AC lift SMAP for implicit supervisor accesses too (PFERR_IMPLICIT_ACCESS ignored)', source: 'breaks SDM vol. 3A §4.6.1 (with CR4.SMAP=1, EFLAGS.AC=1 permits supervisor data accesses to user-mode addresses only when the access is explicit)', caughtBy: ['permission-fault-matches-sdm'] },
  { name: 'mutant-pfec-match-inverted', arch: 'mmu', off: 'vmx-pfec-match-rule', kind: 'mutant', title: 'an L2 #PF exits to L1 when (PFEC & MASK) == MATCH disagrees with exception-bitmap bit 14, instead of when it agrees', source: 'breaks SDM §25.2 (exception bitmap bit 14 with the page-fault error-code mask and match)', caughtBy: ['l2-exit-routing'] },
  // ---- KVM MMU page-fault path (spec vmx-mmu.md §5; the "Page fault and MMIO cleanups" series) ----
  { name: 'pf-error-code-u32', arch: 'mmu', off: 'mmu-pf-error-code-u64', kind: 'historical', title: 'the error code is truncated to 32 bits on the way into kvm_mmu_page_fault: an SNP private fault loses PRIVATE_ACCESS', source: 'KVM: x86/mmu: Pass full 64-bit error code when handling page faults', caughtBy: ['fault-error-code-exact'] },
  { name: 'private-fault-emulated', arch: 'mmu', off: 'mmu-private-emulate-efault', kind: 'historical', title: 'a private fault that hits emulation is emulated', source: 'KVM: x86/mmu: Exit to userspace with -EFAULT if private fault hits emulation', caughtBy: ['private-never-emulated'] },
  { name: 'l2-internal-slots-emulated', arch: 'mmu', off: 'mmu-l2-internal-slots-mapped', kind: 'historical', title: 'L2 accesses to every KVM-internal slot (TSS, identity map) are forced to emulation, not only the APIC-access page', source: 'KVM: x86/mmu: Don\'t force emulation of L2 accesses to non-APIC internal slots (Fixes 3a2936dedd20)', caughtBy: ['l2-internal-slots'] },
  { name: 'private-mmio-allowed', arch: 'mmu', off: 'mmu-noslot-private-efault', kind: 'historical', title: 'a private access to a gfn without a memslot is handled as emulated MMIO', source: 'KVM: x86/mmu: Explicitly disallow private accesses to emulated MMIO', caughtBy: ['private-never-mmio-cached'] },
  { name: 'private-rsvd-mmio-cache', arch: 'mmu', off: 'mmu-private-rsvd-no-mmio-cache', kind: 'historical', title: 'a private reserved-bit fault is looked up in the MMIO cache', source: 'KVM: x86/mmu: WARN and skip MMIO cache on private, reserved page faults', caughtBy: ['private-never-mmio-cached'] },
  { name: 'private-check-after-slot', arch: 'mmu', off: 'mmu-private-check-before-slot', kind: 'historical', title: 'private vs. shared is checked after the memslot checks: the APIC-access page (APICv off) is emulated and a slot being deleted retried even when the access\'s privacy mismatches the gfn', source: '44f42ef37deb KVM: x86/mmu: Move private vs. shared check above slot validity checks (Fixes 8dd2eee9d526)', caughtBy: ['memory-fault-exit-exact'] },
  { name: 'legacy-pf-upper-bits', arch: 'mmu', off: 'mmu-legacy-pf-upper-bits', kind: 'historical', title: 'bits 63:32 of a legacy #PF error code reach the fault handler', source: 'KVM: x86/mmu: WARN if upper 32 bits of legacy #PF error code are non-zero', caughtBy: ['legacy-pf-upper-bits-zero'] },
  { name: 'synthetic-bits-from-hardware', arch: 'mmu', off: 'mmu-npf-synthetic-sanity', kind: 'historical', title: 'PRIVATE_ACCESS / IMPLICIT_ACCESS in a hardware #NPF error code are taken as KVM\'s own', source: 'KVM: x86/mmu: Move synthetic PFERR_* sanity checks to SVM\'s #NPF handler', caughtBy: ['synthetic-bits-never-reach-guest'] },
  { name: 'mutant-noslot-pfn-mapped', arch: 'mmu', off: 'mmu-faultin-no-noslot-pfn', kind: 'mutant', title: 'an internal slot in guest mode leaves __kvm_faultin_pfn with a noslot pfn: an MMIO SPTE without the no-slot path (no private check, no MMIO info, hva not ERR_BAD)', source: 'what "Sanity check that __kvm_faultin_pfn() doesn\'t create noslot pfns" guards against', caughtBy: ['noslot-never-maps-pfn'] },
  { name: 'mutant-stale-pfn-hva', arch: 'mmu', off: 'mmu-pf-error-pfn-hva', kind: 'mutant', title: 'kvm_page_fault.pfn / .hva start as 0 and a no-slot fault leaves hva at 0 (a legal host address)', source: 'what "Initialize kvm_page_fault\'s pfn and hva to error values" guards against', caughtBy: ['noslot-never-maps-pfn'] },
  { name: 'mutant-async-pf-private', arch: 'mmu', off: 'mmu-async-pf-not-private', kind: 'mutant', title: 'a private fault on a non-resident page queues an async page fault', source: 'what "check for invalid async page faults involving private memory" guards against', caughtBy: ['async-pf-never-private'] },
  { name: 'mutant-no-vnmi-check', off: 'svm-check-vnmi', kind: 'mutant', title: 'V_NMI_ENABLE accepted without the NMI intercept', source: 'breaks APM 15.21.4 (V_NMI_ENABLE requires the NMI intercept)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'mutant-no-gpat-check', off: 'svm-check-gpat', kind: 'mutant', title: 'invalid gPAT accepted with nested paging', source: 'breaks APM 15.25.4 (gPAT checked when NP_ENABLE)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'mutant-no-asid-check', drop: 'asid-zero', kind: 'mutant', title: 'ASID 0 accepted', source: 'breaks APM 15.5.1 "ASID is equal to zero"', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'mutant-no-cd-nw-check', drop: 'cr0-cd-clear-nw-set', kind: 'mutant', title: 'CR0.NW without CR0.CD accepted', source: 'breaks APM 15.5.1 "CR0.CD is zero and CR0.NW is set"', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'mutant-no-msrpm-check', drop: 'msrpm-beyond-maxphyaddr', kind: 'mutant', title: 'MSRPM reaching past MAXPHYADDR accepted', source: 'breaks APM 15.5.1 (MSR/IOIO tables beyond the physical address limit)', caughtBy: ['vmrun-verdict-matches-apm'] },
  { name: 'mutant-no-vmrun-intercept-check', drop: 'vmrun-intercept-clear', kind: 'mutant', title: 'vmcb12 without the VMRUN intercept accepted', source: 'breaks APM 15.5.1 "The VMRUN intercept bit is clear"', caughtBy: ['vmrun-verdict-matches-apm', 'checked-is-run'] },
];

const BUG_PROFILES: Profile[] = BUGS.map((b) => ({
  name: b.name,
  arch: b.arch ?? 'svm',
  kind: b.kind,
  bug: true,
  title: b.title,
  source: b.source,
  caughtBy: b.caughtBy,
  patches: b.off ? without(KVM_NEXT, b.off) : withAdded(KVM_NEXT, `drop-check:${b.drop}`),
}));

export const PROFILES: ReadonlyMap<string, Profile> = new Map([...kernels, ...BUG_PROFILES].map((p) => [p.name, p]));

export const DEFAULT_PROFILE = 'kvm-next';

export function getProfile(name: string): Profile | undefined {
  return PROFILES.get(name);
}

export function nonBugProfiles(): Profile[] {
  return [...PROFILES.values()].filter((p) => !p.bug);
}

export function bugProfiles(): Profile[] {
  return [...PROFILES.values()].filter((p) => p.bug);
}
