// The L1 vCPU as KVM holds it while emulating nested SVM: architectural registers (vcpu->arch),
// vmcb01/vmcb02 and which is current (svm->vmcb), GIF, the nested state (svm->nested), SMM and the
// pending-event queues. Field names follow KVM's.

import { zeroControl, zeroSave, type Vmcb, type VmcbControl, type VmcbSave } from '../arch/svm/vmcb.ts';
import type { GuestMemory } from './memory.ts';
import type { GuestCpuid, HostFeatures, KvmQuirks } from './svm/scenario.ts';

/** vcpu->arch registers KVM keeps outside the VMCB (or mirrors into it on entry). */
export interface ArchRegs {
  rax: bigint;
  rsp: bigint;
  rip: bigint;
  rflags: bigint;
  efer: bigint;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  dr6: bigint;
  dr7: bigint;
}

/** svm->nested: the vmcb12 caches and nested bookkeeping. */
export interface SvmNested {
  initialized: boolean;
  hsave_msr: bigint;
  vmcb12_gpa: bigint;
  last_vmcb12_gpa: bigint;
  /** Cached, sanitised vmcb12 control area (struct vmcb_ctrl_area_cached). */
  ctl: VmcbControl;
  /** Cached vmcb12 save area (struct vmcb_save_area_cached; NEW caches every used field). */
  save: VmcbSave;
  force_msr_bitmap_recalc: boolean;
  /** Merged MSR permission bitmap words that differ from L0's (offset → byte). */
  msrpm02_merged: boolean;
}

export interface PendingEvents {
  /** Exception queued for the current context (L1 after an exit). */
  exception: { vector: number; error_code?: number } | null;
  triple_fault: boolean;
  /** KVM_REQ_* flags raised (MMU_SYNC, TLB_FLUSH_CURRENT, GET_NESTED_STATE_PAGES, EVENT, APICV_UPDATE). */
  requests: Set<string>;
}

/** What SMRAM holds for the SVM-specific part of the state save (KVM's smram64 layout). */
export interface Smram {
  svm_guest_flag: boolean;
  svm_guest_vmcb_gpa: bigint;
  efer: bigint;
  /** The interrupted context's registers, restored by rsm_load_state_64. */
  regs: ArchRegs;
}

export interface SvmVcpu {
  regs: ArchRegs;
  cpl: number;
  vmcb01: Vmcb;
  vmcb02: Vmcb;
  current: '01' | '02';
  guest_mode: boolean;
  /** HF_GIF_MASK / guest_gif, used when the host has no vGIF. */
  hflags_gif: boolean;
  smm: boolean;
  smram: Smram | null;
  nested: SvmNested;
  nested_run_pending: boolean;
  nmi_l1_to_l2: boolean;
  soft_int_injected: boolean;
  soft_int_next_rip: bigint;
  nmi_pending: number;
  pending: PendingEvents;
  /** arch.mmu: the root (L1) MMU or the nested-NPT guest_mmu. */
  mmu: 'root_mmu' | 'guest_mmu';
  /** PAE PDPTE registers (walk_mmu->pdptrs), and whether they await a lazy reload. */
  pdptrs: bigint[];
  pdptrs_lazy: boolean;
  l1_tsc_offset: bigint;
  tsc_offset: bigint;
  avic_inhibited: boolean;
  pat: bigint;
  /** Static configuration. */
  maxphyaddr: number;
  host: HostFeatures;
  guest: GuestCpuid;
  quirks: KvmQuirks;
  mem: GuestMemory;
}

export function currentVmcb(v: SvmVcpu): Vmcb {
  return v.current === '01' ? v.vmcb01 : v.vmcb02;
}

export function newNested(hsave: bigint): SvmNested {
  return {
    initialized: true,
    hsave_msr: hsave,
    vmcb12_gpa: 0n,
    last_vmcb12_gpa: 0xffffffffffffffffn,
    ctl: zeroControl(),
    save: zeroSave(),
    force_msr_bitmap_recalc: true,
    msrpm02_merged: false,
  };
}

export function emptyPending(): PendingEvents {
  return { exception: null, triple_fault: false, requests: new Set() };
}
