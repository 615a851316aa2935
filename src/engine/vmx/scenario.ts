// A nested-VMX scenario as data: what L0 runs with, what it advertises to L1, L1's registers in VMX
// root operation, the current VMCS (vmcs12 plus its header and launch state), the L1 memory that VM
// entry reads (MSR-load/store lists, the MSR bitmap, the VMCS link pointer's page), the entry path
// and what L2 does once it runs. `runVmx(scenario, profile)` (run.ts) is a pure function of it.

import type { NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import { cloneVmcs12, type Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import type { VmxGuestFacts } from './ctx.ts';

/** KVM module parameters of L0 that change what vmcs02 holds (vmx.c enable_ept, enable_unrestricted_guest). */
export interface VmxL0 {
  enable_ept: boolean;
  /** Needs enable_ept (vmx.c hardware_setup clears it otherwise). */
  enable_unrestricted_guest: boolean;
  /** nested.c warn_on_missed_cc: WARN when hardware rejects a state KVM's checks should have. */
  warn_on_missed_cc: boolean;
}

/** A segment register as KVM's struct kvm_segment, with the VMX access-rights encoding (SDM §25.4.1). */
export interface VmxSegment {
  selector: number;
  base: bigint;
  limit: number;
  /** VMX access rights: type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15, unusable 16. */
  ar: number;
}

export interface VmxDtable {
  base: bigint;
  limit: number;
}

export const VMX_SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;
export type VmxSegName = (typeof VMX_SEGMENTS)[number];

/** L1's architectural state (the vmcs01 guest state KVM keeps for it). */
export interface VmxL1 {
  cpl: number;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  rflags: bigint;
  rip: bigint;
  rsp: bigint;
  dr6: bigint;
  dr7: bigint;
  debugctl: bigint;
  pat: bigint;
  bndcfgs: bigint;
  perf_global_ctrl: bigint;
  sysenter_cs: number;
  sysenter_esp: bigint;
  sysenter_eip: bigint;
  s_cet: bigint;
  ssp: bigint;
  ssp_tbl: bigint;
  seg: Record<VmxSegName, VmxSegment>;
  gdtr: VmxDtable;
  idtr: VmxDtable;
  /** Interruptibility of L1 at the VMX instruction: bit 0 blocking by STI, bit 1 blocking by MOV SS. */
  interruptibility: number;
  /** IA32_APIC_BASE.EXTD: x2APIC mode (MSR-list entries 0x800-0x8ff are refused then). */
  x2apic: boolean;
  /** Other MSRs L1 owns, by index ("0xc0000082" → value): what MSR-load lists write and store lists read. */
  msrs: Record<string, bigint>;
  smm: boolean;
  /** In VMX operation (KVM nested.vmxon). */
  vmxon: boolean;
  vmxon_ptr: bigint;
}

export type VmxEntryPath = 'vmlaunch' | 'vmresume' | 'set-nested-state';

/** KVM_SET_NESTED_STATE (format VMX) as userspace passes it; only used by the set-nested-state path. */
export interface VmxNestedStateHdr {
  /** KVM_STATE_NESTED_GUEST_MODE. */
  guest_mode: boolean;
  /** KVM_STATE_NESTED_RUN_PENDING. */
  run_pending: boolean;
}

/**
 * What L2 does after a successful entry: one instruction that ends in an exit to L1 (or is handled by
 * L0 without one), or userspace destroying the vCPU while L2 runs. MSR instructions use `msr`.
 */
export type VmxL2Action =
  | { kind: 'vmcall' }
  | { kind: 'cpuid' }
  | { kind: 'hlt' }
  | { kind: 'rdmsr'; msr: number }
  | { kind: 'wrmsr'; msr: number; value: bigint }
  | { kind: 'vcpu-destroy' };

/** What L1 does after its first VM exit back to it: nothing more, or leave VMX operation. */
export type VmxL1After = 'none' | 'vmxoff';

export interface VmxScenario {
  /** The discriminant against SvmScenario (arch: 'svm'). */
  arch: 'vmx';
  l0: VmxL0;
  /** The nested capability MSRs advertised to L1 (KVM nested.msrs). */
  caps: NestedVmxMsrs;
  guest: VmxGuestFacts;
  l1: VmxL1;
  /** nested.current_vmptr: the GPA of the current VMCS; INVALID_GPA = none loaded. */
  current_vmptr: bigint;
  /** The current VMCS's header: revision 30:0 and the shadow-VMCS indicator (bit 31). */
  vmcs12_revision: number;
  vmcs12_shadow: boolean;
  launch_state: 'clear' | 'launched';
  vmcs12: Vmcs12;
  /** L1 memory as 8-byte words keyed by 8-aligned GPA ("0x1a000"); absent words read as 0. */
  mem: Record<string, bigint>;
  /** L1's memslots cover [0, ram_top); a read at or above it fails (no memslot). */
  ram_top: bigint;
  path: VmxEntryPath;
  nested_state: VmxNestedStateHdr;
  l2: VmxL2Action;
  after: VmxL1After;
}

function cloneSeg(s: VmxSegment): VmxSegment {
  return { selector: s.selector, base: s.base, limit: s.limit, ar: s.ar };
}

export function cloneVmxL1(l: VmxL1): VmxL1 {
  const seg = {} as Record<VmxSegName, VmxSegment>;
  for (const n of VMX_SEGMENTS) seg[n] = cloneSeg(l.seg[n]);
  return { ...l, seg, gdtr: { ...l.gdtr }, idtr: { ...l.idtr }, msrs: { ...l.msrs } };
}

export function cloneVmxScenario(s: VmxScenario): VmxScenario {
  return {
    ...s,
    l0: { ...s.l0 },
    caps: { ...s.caps },
    guest: { ...s.guest, cpuid: { ...s.guest.cpuid } },
    l1: cloneVmxL1(s.l1),
    vmcs12: cloneVmcs12(s.vmcs12),
    mem: { ...s.mem },
    nested_state: { ...s.nested_state },
    l2: { ...s.l2 },
  };
}

/** The `mem` key of the 8-byte word holding `gpa`. */
export function memKey(gpa: bigint): string {
  return '0x' + (gpa & ~7n).toString(16);
}
