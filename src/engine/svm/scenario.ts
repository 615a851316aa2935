// A nested-SVM scenario: plain data (JSON after bigint encoding) that fully determines a run.
// The corpus stores it whole, so a counterexample survives changes to the arbitraries.

import { cloneVmcb, type Vmcb } from '../../arch/svm/vmcb.ts';
import type { Memslot } from '../memory.ts';

/** Host (L0) capabilities and module parameters: `npt_enabled`, `vgif`, `nrips`, ... in svm.c. */
export interface HostFeatures {
  npt: boolean;
  nrips: boolean;
  vgif: boolean;
  vnmi: boolean;
  lbrv: boolean;
  v_vmsave_vmload: boolean;
  avic: boolean;
  intercept_smi: boolean;
}

/** Guest CPUID bits that KVM consults for nested SVM (guest_cpu_cap_has / guest_can_use). */
export interface GuestCpuid {
  svm: boolean;
  /** VMX (Intel): CR4.VMXE is reserved for a guest without it. Absent = false (an SVM guest). */
  vmx?: boolean;
  npt: boolean;
  nrips: boolean;
  vgif: boolean;
  vnmi: boolean;
  lbrv: boolean;
  v_vmsave_vmload: boolean;
  lm: boolean;
  nx: boolean;
  ffxsr: boolean;
  xsave: boolean;
  invpcid: boolean;
  rdtscp: boolean;
  skinit: boolean;
  rdpru: boolean;
  shstk: boolean;
  sev_es: boolean;
  la57: boolean;
  smep: boolean;
  smap: boolean;
  pku: boolean;
  fsgsbase: boolean;
  pcid: boolean;
  umip: boolean;
  gmet: boolean;
  lam: boolean;
  pausefilter: boolean;
  pfthreshold: boolean;
}

export interface KvmQuirks {
  /** KVM_X86_QUIRK_NESTED_SVM_SHARED_PAT: L2 shares L1's PAT even with nested NPT. */
  nested_svm_shared_pat: boolean;
}

/** L1's architectural state when it executes VMRUN, named like the save-area fields. */
export interface L1State {
  efer: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  cr2: bigint;
  rflags: bigint;
  rip: bigint;
  rsp: bigint;
  /** The vmcb12 GPA VMRUN takes from rAX. */
  rax: bigint;
  dr6: bigint;
  dr7: bigint;
  /** CS attributes (packed VMCB form): CS.L decides whether rAX is truncated to 32 bits. */
  cs_attrib: number;
  cpl: number;
  gif: number;
  vm_hsave_pa: bigint;
  smm: boolean;
  /** IA32_PAT of L1. */
  pat: bigint;
  maxphyaddr: number;
  host: HostFeatures;
  guest: GuestCpuid;
  quirks: KvmQuirks;
  memslots: Memslot[];
  /** Extra guest memory: GPA (hex string) → bytes (hex string), e.g. PAE PDPTEs or bitmap bits. */
  memory: Record<string, string>;
}

/**
 * The first instructions of L2 (later issues bring full instruction streams). L2 runs until the
 * first instruction that exits to L1; the rest are not reached.
 */
export type L2Insn =
  | { op: 'vmmcall' }
  | { op: 'hlt' }
  | { op: 'cpuid' }
  | { op: 'vmrun' }
  | { op: 'clgi' }
  | { op: 'stgi' }
  | { op: 'ud2' }
  | { op: 'int3' }
  | { op: 'nop' }
  /**
   * STI: sets RFLAGS.IF; when IF was clear the next instruction runs in an interrupt shadow
   * (APM 15.21.5, int_state bit 0 on a #VMEXIT taken before it completes).
   */
  | { op: 'sti' }
  /** L0's emulator faults on an L2 access (#PF at EMULATED_PF_ADDR); L0 injects it unless L1 intercepts #PF. */
  | { op: 'emulated-pf' }
  /** An external interrupt arrives for L2 before the next VM entry. */
  | { op: 'intr' }
  /** Not an instruction: userspace deletes the memslot holding vmcb12 while L2 runs. */
  | { op: 'userspace-delete-vmcb12-memslot' };

/** The linear address of the #PF an 'emulated-pf' raises. */
export const EMULATED_PF_ADDR = 0xdead0000n;

/** A write to vmcb12 by another L1 vCPU, landing after KVM's first read of vmcb12. */
export interface RaceWrite {
  /** Field path in the VMCB: 'control.intercepts[4]', 'control.asid', 'save.efer', 'save.cs.attrib'. */
  path: string;
  value: bigint | number;
}

export interface SmmFlow {
  /** The (valid) vmcb12 L1 enters L2 with before the SMI; `vmcb12` is what RSM finds. */
  vmrun_vmcb12: Vmcb;
  /** Userspace saved and restored the vCPU (KVM_GET/SET_NESTED_STATE, SMM state) while in SMM. */
  migrate: boolean;
}

export interface NestedStateFlow {
  /** KVM_STATE_NESTED_* flags: GUEST_MODE 1, RUN_PENDING 2, GIF_SET 0x100. */
  flags: number;
  /** hdr.svm.gpat (used when L2 has its own PAT). */
  gpat: bigint;
}

export type EntryPath = 'vmrun' | 'rsm' | 'set_nested_state';

export interface SvmScenario {
  arch: 'svm';
  entry: EntryPath;
  l1: L1State;
  /** vmcb12 as it sits in guest memory at rAX when the entry path reads it. */
  vmcb12: Vmcb;
  l2: L2Insn[];
  race: RaceWrite | null;
  smm: SmmFlow | null;
  nested_state: NestedStateFlow | null;
}

export const KVM_STATE_NESTED = { GUEST_MODE: 0x1, RUN_PENDING: 0x2, GIF_SET: 0x100 } as const;

/** Deep copy of a scenario (faster than structuredClone on the generation hot path). */
export function cloneScenario(s: SvmScenario): SvmScenario {
  const l1 = s.l1;
  return {
    arch: s.arch,
    entry: s.entry,
    l1: {
      ...l1,
      host: { ...l1.host },
      guest: { ...l1.guest },
      quirks: { ...l1.quirks },
      memslots: l1.memslots.map((m) => ({ base: m.base, size: m.size })),
      memory: { ...l1.memory },
    },
    vmcb12: cloneVmcb(s.vmcb12),
    l2: s.l2.map((i) => ({ ...i })),
    race: s.race ? { ...s.race } : null,
    smm: s.smm ? { vmrun_vmcb12: cloneVmcb(s.smm.vmrun_vmcb12), migrate: s.smm.migrate } : null,
    nested_state: s.nested_state ? { ...s.nested_state } : null,
  };
}
