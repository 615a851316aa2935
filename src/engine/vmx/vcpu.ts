// The L1 vCPU state the VMX instructions (VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE)
// consult and change, under KVM's names (struct vcpu_vmx, struct nested_vmx) where they exist.
//
// L1 memory holding VMCS regions is modelled as `vmx.vmcs12s`, a map from the region's GPA to its
// decoded contents: the 32-bit header word at offset 0 (`revision_id`, bit 31 = shadow-VMCS
// indicator; vmcs12.h hdr), `launch_state` (offset 8) and the vmcs12 fields. A GPA that is not in
// the map reads as all zeros (revision 0, launch state clear). The VMXON region is looked up in the
// same map: VMXON reads only its revision identifier (SDM "VMXON": "rev ← 32 bits located at
// physical address addr").
//
// `vmx.cached_vmcs12` is KVM's nested.cached_vmcs12: the copy of the current VMCS that VMREAD and
// VMWRITE act on. VMPTRLD fills it from memory; nested_release_vmcs12 (VMCLEAR of the current VMCS,
// VMPTRLD of another, VMXOFF) writes it back to `vmcs12s` and makes current_vmptr INVALID_GPA.

import { kvmNestedVmxMsrs, type NestedVmxMsrs } from '../../arch/vmx/caps.ts';
import { cloneVmcs12, VMCS12_REVISION, zeroVmcs12, type Vmcs12 } from '../../arch/vmx/vmcs12.ts';

/** KVM INVALID_GPA: no current VMCS / no VMXON region. */
export const INVALID_GPA = 0xffffffffffffffffn;

/** IA32_FEATURE_CONTROL bits VMXON needs outside SMX (KVM VMXON_NEEDED_FEATURES). */
export const FEAT_CTL = {
  LOCKED: 1n << 0n,
  VMX_ENABLED_INSIDE_SMX: 1n << 1n,
  VMX_ENABLED_OUTSIDE_SMX: 1n << 2n,
} as const;

/** A VMCS region in L1 memory (or KVM's cached copy of the current one). */
export interface VmcsRegion {
  vmcs12: Vmcs12;
  /** The u32 at offset 0: bits 30:0 the revision identifier, bit 31 the shadow-VMCS indicator. */
  revision_id: number;
  /** vmcs12.launch_state: false = clear (after VMCLEAR), true = launched. */
  launch_state: boolean;
}

export interface NestedVmxState {
  /** In VMX operation (KVM nested.vmxon). */
  vmxon: boolean;
  /** KVM nested.vmxon_ptr; INVALID_GPA outside VMX operation. */
  vmxon_ptr: bigint;
  /** KVM nested.current_vmptr; INVALID_GPA when there is no current VMCS. */
  current_vmptr: bigint;
  /** KVM nested.cached_vmcs12: the current VMCS's contents while current_vmptr is valid. */
  cached_vmcs12: VmcsRegion | null;
  /** L1 memory: VMCS (and VMXON) regions by GPA; absent GPAs read as zeros. */
  vmcs12s: Map<bigint, VmcsRegion>;
}

export interface VmxVcpu {
  cpl: number;
  cr0: bigint;
  cr4: bigint;
  efer: bigint;
  /** CS.L: with EFER.LMA, 64-bit mode; without it, compatibility mode (is_64_bit_mode). */
  cs_l: boolean;
  rflags: bigint;
  rip: bigint;
  dr6: bigint;
  /** The exception queued for L1 by the instruction (the single-step #DB of a trapped VMX instruction). */
  exception: { vector: number; payload?: bigint } | null;
  /** L1's IA32_FEATURE_CONTROL (vmx->msr_ia32_feature_control). */
  msr_ia32_feature_control: bigint;
  /** In SMM: KVM leaves VMX operation on SMM entry and refuses CR4.VMXE there (vmx_is_valid_cr4). */
  smm: boolean;
  /** Guest MAXPHYADDR (cpuid_maxphyaddr), for page_address_valid. */
  maxphyaddr: number;
  /** Nested capability MSRs advertised to L1 (KVM nested.msrs). */
  caps: NestedVmxMsrs;
  vmx: NestedVmxState;
}

export interface NewVmxVcpuOpts extends Partial<Omit<VmxVcpu, 'vmx'>> {
  vmx?: Partial<NestedVmxState>;
}

/**
 * A 64-bit CPL-0 L1 with CR4.VMXE set, IA32_FEATURE_CONTROL locked with VMX enabled outside SMX,
 * outside VMX operation, KVM's default nested capabilities; every field overridable.
 */
export function newVmxVcpu(opts: NewVmxVcpuOpts = {}): VmxVcpu {
  const { vmx, ...rest } = opts;
  return {
    cpl: 0,
    cr0: 0x80000031n, // PG | NE | ET | PE
    cr4: 0x2020n, // VMXE | PAE
    efer: 0x500n, // LMA | LME
    cs_l: true,
    rflags: 0x2n,
    rip: 0x1000n,
    dr6: 0xffff0ff0n,
    exception: null,
    msr_ia32_feature_control: FEAT_CTL.LOCKED | FEAT_CTL.VMX_ENABLED_OUTSIDE_SMX,
    smm: false,
    maxphyaddr: 46,
    caps: kvmNestedVmxMsrs(),
    ...rest,
    vmx: {
      vmxon: false,
      vmxon_ptr: INVALID_GPA,
      current_vmptr: INVALID_GPA,
      cached_vmcs12: null,
      vmcs12s: new Map(),
      ...vmx,
    },
  };
}

/** A VMCS region as L1 prepares it: revision VMCS12_REVISION (unless given), launch state clear. */
export function newVmcsRegion(opts: Partial<VmcsRegion> = {}): VmcsRegion {
  return { vmcs12: zeroVmcs12(), revision_id: VMCS12_REVISION, launch_state: false, ...opts };
}

export function cloneVmcsRegion(r: VmcsRegion): VmcsRegion {
  return { vmcs12: cloneVmcs12(r.vmcs12), revision_id: r.revision_id, launch_state: r.launch_state };
}
