// What VMRUN does according to the AMD APM vol. 2, written as data: the instruction's gates (§15.5
// and the VMRUN instruction reference), the list in §15.5.1 "Canonicalization and Consistency
// Checks", event-injection legality (§15.20), NMI virtualisation (§15.21.4) and the nested-paging
// rules (§15.25.3, §15.25.4). Each rule is a record; `applies` returns true when the rule makes
// VMRUN fail.
//
// This model shares no code with src/engine: it imports only types and the architectural constants
// of src/arch. Where KVM knowingly departs from the APM, the departure is a record in
// KVM_DEVIATIONS (what KVM does, why, where), and `apmVmrunVerdict` applies those records, so on
// the kvm-next profile its verdict is KVM's. `apmVmrunVerdictStrict` applies none of them.

import { encodeVmcb } from '../../../src/arch/svm/codec.ts';
import { CR0, CR4, EFER, EVTINJ, INTERCEPT, INT_CTL, IOPM_SIZE, MISC_CTL, MSRPM_SIZE, RFLAGS, SEG_ATTR, VEC, isIntercept } from '../../../src/arch/svm/defs.ts';
import { cloneVmcb, type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import type { GuestCpuid, L1State } from '../../../src/engine/svm/scenario.ts';

// ---------------------------------------------------------------------------------------------
// Vocabulary

/** How a rule makes VMRUN fail. 'userspace-exit' only for KVM-only rules (KVM exits to its VMM). */
export type VmrunFailure = '#UD' | '#GP' | 'vmexit-invalid' | 'userspace-exit';
export type VmrunOutcome = 'entered' | VmrunFailure;

/**
 * When a rule is evaluated: 'gate' = before vmcb12's contents matter (an exception or a VMM exit);
 * 'check' = a consistency check on vmcb12 (KVM: nested_vmcb_check_save/controls, "early");
 * 'late' = a failure while L2's state is being loaded (KVM: after vmcb02 is built).
 */
export type RuleStage = 'gate' | 'check' | 'late';

/** L1's physical memory as VMRUN's own reads see it (vmcb12's page included). */
export interface PhysMem {
  /** Is the 4 KiB page holding `gpa` inside a memslot? */
  pageBacked(gpa: bigint): boolean;
  /** `len` bytes from `gpa`, or null when any of them is unbacked. */
  read(gpa: bigint, len: number): Uint8Array | null;
}

/** What a rule may consult besides L1's state and vmcb12. */
export interface VmrunEnv {
  /** L1's (virtual) processor: the CPUID KVM exposes to L1. */
  cpu: GuestCpuid;
  /** Physical-address width of L1's processor. */
  maxphyaddr: number;
  /** The vmcb12 address VMRUN takes from rAX (EAX outside 64-bit mode). */
  vmcb12Gpa: bigint;
  mem: PhysMem;
}

export type RuleFn = (l1: L1State, vmcb12: Vmcb, env: VmrunEnv) => boolean;

export interface VmrunRule {
  id: string;
  /** The manual section (and the rule's words, paraphrased) or, for KVM-only rules, KVM's function. */
  source: string;
  stage: RuleStage;
  outcome: VmrunFailure;
  /** true = this rule makes VMRUN fail. */
  applies: RuleFn;
}

/** How KVM departs from one APM rule. */
export type DeviationEffect =
  /** KVM evaluates its own condition instead of the APM's. */
  | { kind: 'replace'; applies: RuleFn }
  /** KVM has no such check. */
  | { kind: 'remove' }
  /** A failure only KVM has, evaluated right after rule `after` (KVM's order). */
  | { kind: 'add'; after: string; stage: RuleStage; outcome: VmrunFailure; source: string; applies: RuleFn }
  /** KVM rewrites vmcb12 before any rule runs; returns null when this input is left as it is. */
  | { kind: 'sanitize'; apply: (vmcb12: Vmcb, l1: L1State) => Vmcb | null };

export interface KvmDeviation {
  id: string;
  /** The APM rule it changes, the KVM-only rule it adds, or the vmcb12 field a sanitising step rewrites. */
  rule: string;
  /** What KVM does. */
  kvm: string;
  /** Why (or why it does not matter). */
  reason: string;
  /** KVM function / commit (spec section). */
  source: string;
  effect: DeviationEffect;
}

export interface VmrunVerdict {
  outcome: VmrunOutcome;
  /** Every violated rule id, in evaluation order (the outcome comes from the first failing gate). */
  rules: string[];
  /** For 'vmexit-invalid': 'early' when a consistency check fails, 'late' when only a late rule does. */
  stage: 'early' | 'late' | null;
  /** Deviations that changed some rule's result for this input (empty for the strict verdict). */
  deviations: string[];
}

// ---------------------------------------------------------------------------------------------
// Architectural helpers (APM facts; written here, not taken from the engine)

const U64 = (1n << 64n) - 1n;
const bits = (...ns: number[]): bigint => ns.reduce((m, n) => m | (1n << BigInt(n)), 0n);

/** A physical address is legal when no bit at or above MAXPHYADDR is set. */
function physLegal(pa: bigint, maxphyaddr: number): boolean {
  return pa >> BigInt(maxphyaddr) === 0n;
}

/** CR4 bits the APM defines (Figure "Control Register 4"): all others are reserved, MBZ. */
const APM_CR4_DEFINED = bits(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 20, 21, 22, 23);
const APM_CR4_MBZ = U64 & ~APM_CR4_DEFINED;

/** EFER bits the APM defines (SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE, MCOMMIT, INTWB, UAIE, AIBRSE). */
const APM_EFER_DEFINED = bits(0, 8, 10, 11, 12, 13, 14, 15, 17, 18, 20, 21);
const APM_EFER_MBZ = U64 & ~APM_EFER_DEFINED;

/** Vectors the APM's exception table defines as exceptions (NMI, 2, is an interrupt; 9, 15, 20, 22–27, 31 reserved). */
const APM_EXCEPTION_VECTORS: ReadonlySet<number> = new Set([
  VEC.DE, VEC.DB, VEC.BP, VEC.OF, VEC.BR, VEC.UD, VEC.NM, VEC.DF, VEC.TS, VEC.NP, VEC.SS, VEC.GP, VEC.PF,
  VEC.MF, VEC.AC, VEC.MC, VEC.XM, VEC.CP, VEC.HV, VEC.VC, VEC.SX,
]);

/** EVENTINJ TYPE values the APM defines: 0 INTR, 2 NMI, 3 exception, 4 software interrupt. */
const APM_EVENT_TYPES: ReadonlySet<number> = new Set([0, 2, 3, 4]);

/** PAT memory types (APM "PAT Register"): 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-; the rest are reserved. */
const PAT_TYPES: ReadonlySet<number> = new Set([0, 1, 4, 5, 6, 7]);

function patValid(pat: bigint): boolean {
  for (let i = 0n; i < 64n; i += 8n) if (!PAT_TYPES.has(Number((pat >> i) & 0xffn))) return false;
  return true;
}

/** Bits 11:0 of the permission-map bases are ignored (APM 15.10.1, 15.11). */
const pageBase = (pa: bigint): bigint => pa & ~0xfffn;

/** The last byte of a permission map at `base` of `size` bytes lies at or beyond MAXPHYADDR. */
function mapBeyondLimit(base: bigint, size: number, maxphyaddr: number): boolean {
  const b = pageBase(base);
  return !physLegal(b, maxphyaddr) || !physLegal(b + BigInt(size) - 1n, maxphyaddr);
}

const np = (vmcb12: Vmcb): boolean => (vmcb12.control.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
const lmePg = (vmcb12: Vmcb): boolean => (vmcb12.save.efer & EFER.LME) !== 0n && (vmcb12.save.cr0 & CR0.PG) !== 0n;
const csL = (vmcb12: Vmcb): boolean => (vmcb12.save.cs.attrib & SEG_ATTR.L) !== 0;
const csD = (vmcb12: Vmcb): boolean => (vmcb12.save.cs.attrib & SEG_ATTR.DB) !== 0;

/** 64-bit mode: EFER.LMA and CS.L. Outside it VMRUN's address comes from EAX. */
function l1In64BitMode(l1: L1State): boolean {
  return (l1.efer & EFER.LMA) !== 0n && (l1.cs_attrib & SEG_ATTR.L) !== 0;
}

export function vmcb12GpaFromRax(l1: L1State): bigint {
  return l1In64BitMode(l1) ? l1.rax & U64 : l1.rax & 0xffffffffn;
}

// ---------------------------------------------------------------------------------------------
// The APM's rules, in the order the instruction evaluates them (gates first).

const APM15_5_1 = 'APM vol. 2 §15.5.1 "Canonicalization and Consistency Checks"';

export const APM_VMRUN_RULES: readonly VmrunRule[] = [
  // ---- gates (VMRUN instruction reference, APM vol. 3; §15.5) ----
  {
    id: 'vmrun-svm-unsupported', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN, exceptions: #UD when CPUID Fn8000_0001_ECX[SVM] = 0',
    applies: (_l1, _v, env) => !env.cpu.svm,
  },
  {
    id: 'vmrun-efer-svme-clear', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 2 §15.4 / vol. 3 VMRUN: #UD when EFER.SVME = 0 ("Secure Virtual Machine was not enabled")',
    applies: (l1) => (l1.efer & EFER.SVME) === 0n,
  },
  {
    id: 'vmrun-not-protected-mode', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN: #UD in real mode (the SVM instructions are recognised only in protected mode)',
    applies: (l1) => (l1.cr0 & CR0.PE) === 0n,
  },
  {
    id: 'vmrun-virtual-8086-mode', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN: #UD in virtual-8086 mode',
    applies: (l1) => (l1.cr0 & CR0.PE) !== 0n && (l1.rflags & RFLAGS.VM) !== 0n,
  },
  {
    id: 'vmrun-cpl-nonzero', stage: 'gate', outcome: '#GP',
    source: 'APM vol. 2 §15.5: "VMRUN is available only at CPL 0"; #GP(0) otherwise',
    applies: (l1) => l1.cpl !== 0,
  },
  {
    id: 'vmrun-rax-invalid', stage: 'gate', outcome: '#GP',
    source: 'APM vol. 3 VMRUN: #GP(0) when rAX is not 4-Kbyte aligned or beyond the maximum supported physical address',
    applies: (_l1, _v, env) => (env.vmcb12Gpa & 0xfffn) !== 0n || !physLegal(env.vmcb12Gpa, env.maxphyaddr),
  },
  // ---- §15.5.1: guest state ----
  { id: 'efer-svme-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.SVME is zero"`, applies: (_l, v) => (v.save.efer & EFER.SVME) === 0n },
  {
    id: 'cr0-cd-clear-nw-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "CR0.CD is zero and CR0.NW is set"`,
    applies: (_l, v) => (v.save.cr0 & CR0.CD) === 0n && (v.save.cr0 & CR0.NW) !== 0n,
  },
  { id: 'cr0-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "CR0[63:32] are not zero"`, applies: (_l, v) => v.save.cr0 >> 32n !== 0n },
  {
    id: 'cr3-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of CR3 is set" (bits at or above MAXPHYADDR)`,
    applies: (_l, v, env) => !physLegal(v.save.cr3, env.maxphyaddr),
  },
  { id: 'cr4-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of CR4 is set"`, applies: (_l, v) => (v.save.cr4 & APM_CR4_MBZ) !== 0n },
  { id: 'dr6-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "DR6[63:32] are not zero"`, applies: (_l, v) => v.save.dr6 >> 32n !== 0n },
  { id: 'dr7-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "DR7[63:32] are not zero"`, applies: (_l, v) => v.save.dr7 >> 32n !== 0n },
  { id: 'efer-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of EFER is set"`, applies: (_l, v) => (v.save.efer & APM_EFER_MBZ) !== 0n },
  {
    id: 'efer-long-mode-unsupported', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "EFER.LMA or EFER.LME is non-zero and this processor does not support long mode"`,
    applies: (_l, v, env) => (v.save.efer & (EFER.LMA | EFER.LME)) !== 0n && !env.cpu.lm,
  },
  {
    id: 'long-mode-cr4-pae-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME and CR0.PG are both set and CR4.PAE is zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr4 & CR4.PAE) === 0n,
  },
  {
    id: 'long-mode-cr0-pe-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr0 & CR0.PE) === 0n,
  },
  {
    id: 'long-mode-cs-l-and-d', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr4 & CR4.PAE) !== 0n && csL(v) && csD(v),
  },
  // ---- §15.5.1: controls ----
  {
    id: 'vmrun-intercept-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "The VMRUN intercept bit is clear"`,
    applies: (_l, v) => !isIntercept(v.control.intercepts, INTERCEPT.VMRUN),
  },
  {
    id: 'msrpm-beyond-maxphyaddr', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "The MSR or IOIO intercept tables extend to a physical address that is greater than or equal to the maximum supported physical address" (MSRPM: 8 KB)`,
    applies: (_l, v, env) => mapBeyondLimit(v.control.msrpm_base_pa, MSRPM_SIZE, env.maxphyaddr),
  },
  {
    id: 'iopm-beyond-maxphyaddr', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: the same rule for the IOPM (12 KB)`,
    applies: (_l, v, env) => mapBeyondLimit(v.control.iopm_base_pa, IOPM_SIZE, env.maxphyaddr),
  },
  {
    id: 'event-inj-type-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "Illegal event injection"; APM §15.20: a reserved EVENTINJ.TYPE value (1, 5, 6, 7)`,
    applies: (_l, v) => (v.control.event_inj & EVTINJ.VALID) !== 0 && !APM_EVENT_TYPES.has((v.control.event_inj & EVTINJ.TYPE_MASK) >> EVTINJ.TYPE_SHIFT),
  },
  {
    id: 'event-inj-exception-vector-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.20: TYPE = 3 (exception) with a vector that is not an exception (2, NMI, included)',
    applies: (_l, v) => eventInjException(v) && !APM_EXCEPTION_VECTORS.has(v.control.event_inj & EVTINJ.VEC_MASK),
  },
  { id: 'asid-zero', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "ASID is equal to zero"`, applies: (_l, v) => v.control.asid === 0 },
  {
    id: 'vnmi-without-nmi-intercept', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.21.4 "NMI Virtualization": V_NMI_ENABLE requires the NMI intercept (on processors with NMI virtualisation)',
    applies: (_l, v, env) => env.cpu.vnmi && vnmiWithoutIntercept(v),
  },
  // ---- §15.25.3 / §15.25.4: nested paging ----
  {
    id: 'ncr3-mbz', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.3: with NP_ENABLE, an nCR3 with MBZ bits (at or above MAXPHYADDR) set fails VMRUN',
    applies: (_l, v, env) => np(v) && !physLegal(v.control.nested_cr3, env.maxphyaddr),
  },
  {
    id: 'np-enable-hcr0-pg-clear', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.3: "If VMRUN is executed with hCR0.PG cleared to zero and NP_ENABLE set to 1, VMRUN terminates with #VMEXIT(VMEXIT_INVALID)"',
    applies: (l1, v) => np(v) && (l1.cr0 & CR0.PG) === 0n,
  },
  {
    id: 'gpat-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.4 "Nested Paging and VMRUN/#VMEXIT": with NP_ENABLE, a gPAT holding a reserved memory type fails VMRUN',
    applies: (_l, v) => np(v) && !patValid(v.save.g_pat),
  },
];

function eventInjException(v: Vmcb): boolean {
  const ev = v.control.event_inj;
  return (ev & EVTINJ.VALID) !== 0 && (ev & EVTINJ.TYPE_MASK) === EVTINJ.TYPE_EXEPT;
}

function vnmiWithoutIntercept(v: Vmcb): boolean {
  return (v.control.int_ctl & INT_CTL.V_NMI_ENABLE) !== 0 && !isIntercept(v.control.intercepts, INTERCEPT.NMI);
}

// ---------------------------------------------------------------------------------------------
// KVM as data: how the kvm-next tree departs from the rules above (spec svm.md §2–§3).

/** CR3 legality as KVM judges it (kvm_vcpu_is_legal_cr3): LAM bits 61/62 set aside when the guest has LAM. */
function kvmCr3Legal(cr3: bigint, env: VmrunEnv): boolean {
  const lam = bits(61, 62);
  return physLegal(env.cpu.lam ? cr3 & ~lam : cr3, env.maxphyaddr);
}

/** CR4 bits KVM reserves for this guest: the APM's MBZ bits plus those of features absent from its CPUID. */
function kvmCr4Reserved(cpu: GuestCpuid): bigint {
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
function kvmEferInvalid(efer: bigint, cpu: GuestCpuid): boolean {
  const known = EFER.SCE | EFER.LME | EFER.LMA | EFER.NX | EFER.SVME | EFER.FFXSR;
  if ((efer & ~known & U64) !== 0n || efer >> 64n !== 0n) return true;
  if (!cpu.nx && (efer & EFER.NX) !== 0n) return true;
  if (!cpu.svm && (efer & EFER.SVME) !== 0n) return true;
  if (!cpu.ffxsr && (efer & EFER.FFXSR) !== 0n) return true;
  return false;
}

/** Is L2 entered with PAE paging (not long mode), judged on vmcb12's EFER/CR0/CR4 as loaded? */
function l2PaePaging(v: Vmcb): boolean {
  return (v.save.efer & EFER.LMA) === 0n && (v.save.cr4 & CR4.PAE) !== 0n && (v.save.cr0 & CR0.PG) !== 0n;
}

/** Reserved bits of a present PAE PDPTE: 63:MAXPHYADDR, 8:5, 2:1. */
function pdpteReserved(maxphyaddr: number): bigint {
  return (U64 & ~((1n << BigInt(maxphyaddr)) - 1n)) | bits(5, 6, 7, 8) | bits(1, 2);
}

function readU64(b: Uint8Array, off: number): bigint {
  let x = 0n;
  for (let i = 7; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i]);
  return x;
}

const pdptBase = (cr3: bigint): bigint => cr3 & 0xffffffe0n;

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

// ---------------------------------------------------------------------------------------------
// L1's memory, built from the scenario the way VMRUN would find it.

function parseHex(hex: string): Uint8Array {
  const digits = hex.replace(/^0x/i, '').replace(/[^0-9a-f]/gi, '');
  const out = new Uint8Array(digits.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

class L1Memory implements PhysMem {
  private readonly pages = new Map<bigint, Uint8Array>();

  constructor(private readonly l1: L1State) {}

  pageBacked(gpa: bigint): boolean {
    const page = gpa & ~0xfffn;
    return this.l1.memslots.some((s) => page >= s.base && page < s.base + s.size);
  }

  private rangeBacked(gpa: bigint, len: number): boolean {
    if (gpa < 0n) return false;
    for (let p = gpa & ~0xfffn; p <= gpa + BigInt(Math.max(len, 1) - 1); p += 4096n) if (!this.pageBacked(p)) return false;
    return true;
  }

  /** A write lands only when every byte of it is backed. */
  write(gpa: bigint, data: Uint8Array): void {
    if (!this.rangeBacked(gpa, data.length)) return;
    for (let i = 0; i < data.length; i++) {
      const a = gpa + BigInt(i);
      const pfn = a >> 12n;
      let pg = this.pages.get(pfn);
      if (!pg) this.pages.set(pfn, (pg = new Uint8Array(4096)));
      pg[Number(a & 0xfffn)] = data[i];
    }
  }

  setPage(gpa: bigint, bytes: Uint8Array): void {
    if (this.pageBacked(gpa)) this.pages.set(gpa >> 12n, bytes);
  }

  read(gpa: bigint, len: number): Uint8Array | null {
    if (!this.rangeBacked(gpa, len)) return null;
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = gpa + BigInt(i);
      out[i] = this.pages.get(a >> 12n)?.[Number(a & 0xfffn)] ?? 0;
    }
    return out;
  }
}

/** The environment of one VMRUN: L1's CPU, its memory with vmcb12 in place at the address rAX gives. */
export function vmrunEnv(l1: L1State, vmcb12: Vmcb): VmrunEnv {
  const mem = new L1Memory(l1);
  for (const [k, hex] of Object.entries(l1.memory ?? {})) {
    let gpa: bigint;
    try {
      gpa = BigInt(k);
    } catch {
      continue;
    }
    mem.write(gpa, parseHex(hex));
  }
  const gpa = vmcb12GpaFromRax(l1);
  mem.setPage(gpa & ~0xfffn, encodeVmcb(vmcb12));
  return { cpu: l1.guest, maxphyaddr: l1.maxphyaddr, vmcb12Gpa: gpa, mem };
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/** The rule list KVM evaluates: APM rules with the deviations' replacements, removals and additions. */
export function kvmVmrunRules(deviations: readonly KvmDeviation[] = KVM_DEVIATIONS): VmrunRule[] {
  const rules: VmrunRule[] = APM_VMRUN_RULES.map((r) => ({ ...r }));
  for (const d of deviations) {
    const e = d.effect;
    const i = rules.findIndex((r) => r.id === d.rule);
    if (e.kind === 'replace' && i >= 0) rules[i] = { ...rules[i], applies: e.applies, source: `${rules[i].source}; KVM: ${d.source}` };
    else if (e.kind === 'remove' && i >= 0) rules.splice(i, 1);
    else if (e.kind === 'add') {
      const at = rules.findIndex((r) => r.id === e.after);
      const rule: VmrunRule = { id: d.rule, source: e.source, stage: e.stage, outcome: e.outcome, applies: e.applies };
      rules.splice(at >= 0 ? at + 1 : rules.length, 0, rule);
    }
  }
  return rules;
}

const KVM_RULES = kvmVmrunRules();

function judge(rules: readonly VmrunRule[], l1: L1State, vmcb12: Vmcb, env: VmrunEnv): { outcome: VmrunOutcome; rules: string[]; stage: 'early' | 'late' | null } {
  const violated = rules.filter((r) => r.applies(l1, vmcb12, env));
  const gate = violated.find((r) => r.stage === 'gate');
  const ids = violated.map((r) => r.id);
  if (gate) return { outcome: gate.outcome, rules: ids, stage: null };
  if (violated.length === 0) return { outcome: 'entered', rules: ids, stage: null };
  return { outcome: 'vmexit-invalid', rules: ids, stage: violated.some((r) => r.stage === 'check') ? 'early' : 'late' };
}

/** The APM alone: no KVM deviation applied (what `--strict-arch` compares against). */
export function apmVmrunVerdictStrict(l1: L1State, vmcb12: Vmcb): VmrunVerdict {
  return { ...judge(APM_VMRUN_RULES, l1, vmcb12, vmrunEnv(l1, vmcb12)), deviations: [] };
}

/**
 * The APM with KVM's known deviations applied, as KVM applies them: vmcb12 sanitised first, then
 * the rules in KVM's order. On the kvm-next profile this equals the engine's VMRUN outcome.
 */
export function apmVmrunVerdict(l1: L1State, vmcb12: Vmcb): VmrunVerdict {
  const env = vmrunEnv(l1, vmcb12);
  let v = vmcb12;
  const touched: string[] = [];
  for (const d of KVM_DEVIATIONS) {
    if (d.effect.kind !== 'sanitize') continue;
    const out = d.effect.apply(v, l1);
    if (out) {
      v = out;
      touched.push(d.id);
    }
  }
  const kvm = judge(KVM_RULES, l1, v, env);
  const apm = new Set(APM_VMRUN_RULES.filter((r) => r.applies(l1, vmcb12, env)).map((r) => r.id));
  const got = new Set(kvm.rules);
  const deviations = KVM_DEVIATIONS.filter((d) => {
    switch (d.effect.kind) {
      case 'sanitize': return touched.includes(d.id);
      case 'add': return got.has(d.rule);
      case 'remove': return apm.has(d.rule);
      case 'replace': return apm.has(d.rule) !== got.has(d.rule);
    }
  }).map((d) => d.id);
  return { ...kvm, deviations };
}
