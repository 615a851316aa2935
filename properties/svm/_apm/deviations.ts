// How KVM (kvm-next) knowingly departs from the APM rules, as data: what it does, why, where.

import { CR0, CR4, EFER, EVTINJ, INTERCEPT, MISC_CTL, VEC, isIntercept } from '../../../src/arch/svm/defs.ts';
import { cloneVmcb, type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import { U64, bits, physLegal, APM_CR4_MBZ, APM_EXCEPTION_VECTORS, patValid, pageBase, np, lmePg, csL, csD } from './helpers.ts';
import { eventInjException, vnmiWithoutIntercept } from './rules.ts';
import type { GuestCpuid } from '../../../src/engine/svm/scenario.ts';
import type { KvmDeviation, VmrunEnv } from './types.ts';

// ---------------------------------------------------------------------------------------------
// KVM as data: how the kvm-next tree departs from the rules above (spec svm.md §2–§3).

/** CR3 legality as KVM judges it (kvm_vcpu_is_legal_cr3): LAM bits 61/62 set aside when the guest has LAM. */
export function kvmCr3Legal(cr3: bigint, env: VmrunEnv): boolean {
  const lam = bits(61, 62);
  return physLegal(env.cpu.lam ? cr3 & ~lam : cr3, env.maxphyaddr);
}

/** CR4 bits KVM reserves for this guest: the APM's MBZ bits plus those of features absent from its CPUID. */
export function kvmCr4Reserved(cpu: GuestCpuid): bigint {
  let r = APM_CR4_MBZ;
  const gated: [boolean, bigint][] = [
    [cpu.umip, CR4.UMIP], [cpu.la57, CR4.LA57], [cpu.fsgsbase, CR4.FSGSBASE], [cpu.pcid, CR4.PCIDE],
    [cpu.xsave, CR4.OSXSAVE], [cpu.smep, CR4.SMEP], [cpu.smap, CR4.SMAP], [cpu.pku, CR4.PKE], [cpu.shstk, CR4.CET],
  ];
  for (const [has, bit] of gated) if (!has) r |= bit;
  // LAM_SUP (bit 28) is not an AMD bit, but KVM's CR4 rules are vendor-neutral.
  if (cpu.lam) r &= ~CR4.LAM_SUP;
  return r;
}

/** EFER as kvm_valid_efer judges it, less the long-mode test (kept as its own APM rule). */
export function kvmEferInvalid(efer: bigint, cpu: GuestCpuid): boolean {
  const known = EFER.SCE | EFER.LME | EFER.LMA | EFER.NX | EFER.SVME | EFER.FFXSR;
  if ((efer & ~known & U64) !== 0n || efer >> 64n !== 0n) return true;
  if (!cpu.nx && (efer & EFER.NX) !== 0n) return true;
  if (!cpu.svm && (efer & EFER.SVME) !== 0n) return true;
  if (!cpu.ffxsr && (efer & EFER.FFXSR) !== 0n) return true;
  return false;
}

/** Is L2 entered with PAE paging (not long mode), judged on vmcb12's EFER/CR0/CR4 as loaded? */
export function l2PaePaging(v: Vmcb): boolean {
  return (v.save.efer & EFER.LMA) === 0n && (v.save.cr4 & CR4.PAE) !== 0n && (v.save.cr0 & CR0.PG) !== 0n;
}

/** Reserved bits of a present PAE PDPTE: 63:MAXPHYADDR, 8:5, 2:1. */
export function pdpteReserved(maxphyaddr: number): bigint {
  return (U64 & ~((1n << BigInt(maxphyaddr)) - 1n)) | bits(5, 6, 7, 8) | bits(1, 2);
}

export function readU64(b: Uint8Array, off: number): bigint {
  let x = 0n;
  for (let i = 7; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i]);
  return x;
}

export const pdptBase = (cr3: bigint): bigint => cr3 & 0xffffffe0n;

export const KVM_DEVIATIONS: readonly KvmDeviation[] = [
  {
    id: 'gate-paging-not-protected-mode', rule: 'vmrun-not-protected-mode',
    kvm: '#UD when L1 runs with CR0.PG = 0, whatever CR0.PE says',
    reason: 'nested_svm_check_permissions tests is_paging(), not protected mode: an unpaged protected-mode L1 gets #UD where the APM would run VMRUN',
    source: 'nested.c nested_svm_check_permissions (spec §2.1)',
    effect: { kind: 'replace', applies: (l1) => (l1.cr0 & CR0.PG) === 0n },
  },
  {
    id: 'gate-no-v86-test', rule: 'vmrun-virtual-8086-mode',
    kvm: 'no RFLAGS.VM test', reason: 'virtual-8086 code runs at CPL 3, so KVM answers with the CPL test (#GP) instead',
    source: 'nested.c nested_svm_check_permissions (spec §2.1)', effect: { kind: 'remove' },
  },
  {
    id: 'gate-no-svm-cpuid-test', rule: 'vmrun-svm-unsupported',
    kvm: 'no CPUID test at VMRUN', reason: 'L1 cannot set EFER.SVME without SVM in its CPUID (kvm_valid_efer), so the EFER.SVME gate covers every reachable state',
    source: 'svm.c vmrun_interception → nested_svm_check_permissions (spec §2.1)', effect: { kind: 'remove' },
  },
  {
    id: 'hsave-unset-gp', rule: 'vmrun-hsave-unset',
    kvm: '#GP(0) when VM_HSAVE_PA was never set (is 0)', reason: 'KVM needs the host-save page; the APM only constrains the value written to the MSR',
    source: 'fb79f566e4c9 KVM: nSVM: Check that VM_HSAVE_PA MSR was set before VMRUN (spec §2.2 step 1)',
    effect: { kind: 'add', after: 'vmrun-cpl-nonzero', stage: 'gate', outcome: '#GP', source: 'nested.c nested_svm_vmrun: hsave_msr == 0', applies: (l1) => l1.vm_hsave_pa === 0n },
  },
  {
    id: 'vmrun-in-smm-ud', rule: 'vmrun-in-smm',
    kvm: '#UD when VMRUN executes in SMM', reason: 'KVM treats SMM as temporarily disabling SVM (see also svm_set_nested_state); the APM lists no such exception',
    source: 'nested.c nested_svm_vmrun: is_smm → #UD (spec §2.2 step 2)',
    effect: { kind: 'add', after: 'vmrun-hsave-unset', stage: 'gate', outcome: '#UD', source: 'nested.c nested_svm_vmrun: is_smm', applies: (l1) => l1.smm },
  },
  {
    id: 'vmcb12-unbacked-userspace-exit', rule: 'vmrun-vmcb12-unbacked',
    kvm: 'exit to userspace (KVM_EXIT_INTERNAL_ERROR), RIP not advanced, when no memslot backs vmcb12',
    reason: 'kvm_vcpu_map fails with -EFAULT and kvm_handle_memory_failure hands the problem to the VMM; on hardware the read would simply happen',
    source: 'nested.c nested_svm_copy_vmcb12_to_cache → kvm_handle_memory_failure (spec §2.2 step 6, §7 #12)',
    effect: { kind: 'add', after: 'vmrun-rax-invalid', stage: 'gate', outcome: 'userspace-exit', source: 'kvm_handle_memory_failure', applies: (_l, _v, env) => !env.mem.pageBacked(env.vmcb12Gpa) },
  },
  {
    id: 'cr3-checked-early-only-in-long-mode', rule: 'cr3-mbz',
    kvm: 'the consistency check tests CR3 only when EFER.LME && CR0.PG (LAM bits 61/62 allowed when the guest has LAM)',
    reason: 'outside long mode the same rule is enforced later by nested_svm_load_cr3 (see cr3-illegal-late), so the verdict is the same',
    source: 'nested.c nested_vmcb_check_save, S7 (spec §3.2)',
    effect: { kind: 'replace', applies: (_l, v, env) => lmePg(v) && !kvmCr3Legal(v.save.cr3, env) },
  },
  {
    id: 'cr3-illegal-late', rule: 'load-cr3-illegal',
    kvm: 'VMEXIT_INVALID from nested_svm_load_cr3 in every paging mode, after vmcb02 is built: the full nested_svm_vmexit writes the half-loaded L2 state into vmcb12.save',
    reason: 'same verdict as the APM rule, but a late failure (vmcb12 save area overwritten; the unified series would leave it alone)',
    source: 'nested.c enter_svm_guest_mode → nested_svm_load_cr3 (spec §2.2 step 11f–12)',
    effect: { kind: 'add', after: 'gpat-invalid', stage: 'late', outcome: 'vmexit-invalid', source: 'nested.c nested_svm_load_cr3: !kvm_vcpu_is_legal_cr3', applies: (_l, v, env) => !kvmCr3Legal(v.save.cr3, env) },
  },
  {
    id: 'cs-l-d-without-pae-term', rule: 'long-mode-cs-l-and-d',
    kvm: 'tests EFER.LME && CR0.PG && CS.L && CS.D, without CR4.PAE',
    reason: 'no verdict change: with CR4.PAE clear long-mode-cr4-pae-clear already fails',
    source: '23ccf4affa6c KVM: nSVM: Add missing consistency check for EFER, CR0, CR4, and CS (spec §3.2 S8)',
    effect: { kind: 'replace', applies: (_l, v) => lmePg(v) && csL(v) && csD(v) },
  },
  {
    id: 'cr4-reserved-by-guest-cpuid', rule: 'cr4-mbz',
    kvm: 'CR4 & cr4_guest_rsvd_bits: the APM MBZ bits plus every feature bit the guest CPUID lacks (UMIP, LA57, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE, CET); LAM_SUP allowed with LAM',
    reason: 'KVM judges L1 against the virtual CPU it exposes, not against every bit the APM defines',
    source: 'x86.c __kvm_is_valid_cr4 via nested_vmcb_check_save, S9 (spec §3.2)',
    effect: { kind: 'replace', applies: (_l, v, env) => (v.save.cr4 & kvmCr4Reserved(env.cpu)) !== 0n },
  },
  {
    id: 'efer-reserved-by-guest-cpuid', rule: 'efer-mbz',
    kvm: 'kvm_valid_efer: only SCE, LME, LMA, NX, SVME and FFXSR are known; NX, SVME and FFXSR also need the guest CPUID bit',
    reason: 'KVM reserves the APM-defined LMSLE, TCE, MCOMMIT, INTWB, UAIE and AIBRSE bits for nested guests and gates the rest on guest CPUID',
    source: 'x86.c kvm_valid_efer / __kvm_valid_efer via nested_vmcb_check_save, S10 (spec §3.2)',
    effect: { kind: 'replace', applies: (_l, v, env) => kvmEferInvalid(v.save.efer, env.cpu) },
  },
  {
    id: 'event-inj-vectors-by-guest-cpuid', rule: 'event-inj-exception-vector-invalid',
    kvm: 'nested_svm_event_inj_valid_exept: #CP (21) only if the guest has shadow stacks, #VC (29) only if it has SEV-ES',
    reason: 'an exception the virtual CPU cannot raise is treated as an illegal vector',
    source: 'nested.c nested_svm_check_event_inj / nested_svm_event_inj_valid_exept (spec §3.1 C8)',
    effect: {
      kind: 'replace',
      applies: (_l, v, env) => {
        if (!eventInjException(v)) return false;
        const vec = v.control.event_inj & EVTINJ.VEC_MASK;
        if (vec === VEC.CP) return !env.cpu.shstk;
        if (vec === VEC.VC) return !env.cpu.sev_es;
        return !APM_EXCEPTION_VECTORS.has(vec);
      },
    },
  },
  {
    id: 'vnmi-checked-without-cpuid', rule: 'vnmi-without-nmi-intercept',
    kvm: 'V_NMI_ENABLE without the NMI intercept fails VMRUN even when the guest CPUID lacks vNMI',
    reason: 'the check reads the cached int_ctl before any feature gating',
    source: 'nested.c nested_vmcb_check_controls, C7 (spec §3.1)',
    effect: { kind: 'replace', applies: (_l, v) => vnmiWithoutIntercept(v) },
  },
  {
    id: 'np-enable-ignored-without-guest-npt', rule: 'control.misc_ctl.NP_ENABLE',
    kvm: 'NP_ENABLE is cleared from the vmcb12 cache when the guest CPUID lacks NPT, so no nested-paging rule applies',
    reason: 'replaces the old non-architectural failure when the host had npt=0',
    source: 'nested.c __nested_copy_vmcb_control_to_cache; "KVM: nSVM: Drop the non-architectural consistency check for NP_ENABLE" (spec §4.1, §7 #13)',
    effect: {
      kind: 'sanitize',
      apply: (v, l1) => {
        if (l1.guest.npt || !np(v)) return null;
        const c = cloneVmcb(v);
        c.control.misc_ctl &= ~MISC_CTL.NP_ENABLE;
        return c;
      },
    },
  },
  {
    id: 'hcr0-pg-np-not-checked', rule: 'np-enable-hcr0-pg-clear',
    kvm: 'no such check in kvm-next (proposed in the unified series, v6 20/31)',
    reason: 'unreachable through VMRUN: nested_svm_check_permissions already #UDs when L1 CR0.PG = 0',
    source: 'spec §2.5, §3.1 C9', effect: { kind: 'remove' },
  },
  {
    id: 'gpat-only-with-separate-pat', rule: 'gpat-invalid',
    kvm: 'gPAT checked only when L2 has its own PAT (NP_ENABLE and the NESTED_SVM_SHARED_PAT quirk off)',
    reason: 'with the quirk on L2 shares L1\'s PAT and vmcb12.g_pat is never loaded',
    source: 'nested.c nested_svm_check_cached_vmcb12 (check_gpat = l2_has_separate_pat), S11 (spec §3.2)',
    effect: { kind: 'replace', applies: (l1, v) => np(v) && !l1.quirks.nested_svm_shared_pat && !patValid(v.save.g_pat) },
  },
  {
    id: 'pae-pdpt-unreadable-fails-vmrun', rule: 'pae-pdpt-unreadable',
    kvm: 'VMEXIT_INVALID (late) when L2 uses PAE paging without nested NPT and its PDPT cannot be read',
    reason: 'KVM loads the four PDPTEs at VMRUN (load_pdptrs); the APM lists no such check',
    source: 'nested.c nested_svm_load_cr3 → load_pdptrs (spec §2.2 step 11f)',
    effect: {
      kind: 'add', after: 'load-cr3-illegal', stage: 'late', outcome: 'vmexit-invalid', source: 'x86.c load_pdptrs: read failure',
      applies: (_l, v, env) => !np(v) && l2PaePaging(v) && env.mem.read(pdptBase(v.save.cr3), 32) === null,
    },
  },
  {
    id: 'pae-pdpte-reserved-fails-vmrun', rule: 'pae-pdpte-reserved',
    kvm: 'VMEXIT_INVALID (late) when L2 uses PAE paging without nested NPT and a present PDPTE has a reserved bit set',
    reason: 'KVM loads and checks the PDPTEs at VMRUN; the APM lists no such check (the fault would come at use)',
    source: 'nested.c nested_svm_load_cr3 → load_pdptrs (spec §2.2 step 11f)',
    effect: {
      kind: 'add', after: 'pae-pdpt-unreadable', stage: 'late', outcome: 'vmexit-invalid', source: 'x86.c load_pdptrs: reserved bits in a present PDPTE',
      applies: (_l, v, env) => {
        if (np(v) || !l2PaePaging(v)) return false;
        const raw = env.mem.read(pdptBase(v.save.cr3), 32);
        if (!raw) return false;
        const rsvd = pdpteReserved(env.maxphyaddr);
        for (let i = 0; i < 4; i++) {
          const e = readU64(raw, 8 * i);
          if ((e & 1n) !== 0n && (e & rsvd) !== 0n) return true;
        }
        return false;
      },
    },
  },
  {
    id: 'msrpm-unreadable-fails-vmrun', rule: 'msrpm-unreadable',
    kvm: 'VMEXIT_INVALID (late) when vmcb12 intercepts MSR_PROT and L1\'s MSRPM cannot be read for the merge',
    reason: 'KVM merges L1\'s bitmap into vmcb02\'s at VMRUN (both 4 KiB pages are read); hardware would read it only on an MSR access',
    source: 'nested.c nested_svm_merge_msrpm (spec §2.2 step 12)',
    effect: {
      kind: 'add', after: 'pae-pdpte-reserved', stage: 'late', outcome: 'vmexit-invalid', source: 'nested.c nested_svm_merge_msrpm: read failure',
      applies: (_l, v, env) => {
        if (!isIntercept(v.control.intercepts, INTERCEPT.MSR_PROT)) return false;
        const b = pageBase(v.control.msrpm_base_pa);
        return !env.mem.pageBacked(b) || !env.mem.pageBacked(b + 4096n);
      },
    },
  },
];
