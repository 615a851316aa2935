// VMX capability MSRs (SDM vol. 3D Appendix A; KVM asm/vmx.h, msr-index.h) and the values KVM
// advertises to L1 (vmx/nested.c nested_vmx_setup_ctls_msrs, vmx_get_vmx_msr). Spec §1.5.
// 64-bit MSR values are bigints; 32-bit control halves are unsigned numbers.

import { ALWAYSON_WITHOUT_TRUE_MSR, CPU_BASED, PIN_BASED, SECONDARY, VM_ENTRY, VM_EXIT, VMFUNC_CONTROLS } from './controls.ts';
import { VMCS12_REVISION, VMCS12_SIZE } from './vmcs12.ts';

/** Capability MSR indices (SDM App. A / Table 2-2; KVM MSR_IA32_VMX_*). */
export const MSR_IA32_VMX = {
  BASIC: 0x480,
  PINBASED_CTLS: 0x481,
  PROCBASED_CTLS: 0x482,
  EXIT_CTLS: 0x483,
  ENTRY_CTLS: 0x484,
  MISC: 0x485,
  CR0_FIXED0: 0x486,
  CR0_FIXED1: 0x487,
  CR4_FIXED0: 0x488,
  CR4_FIXED1: 0x489,
  VMCS_ENUM: 0x48a,
  PROCBASED_CTLS2: 0x48b,
  EPT_VPID_CAP: 0x48c,
  TRUE_PINBASED_CTLS: 0x48d,
  TRUE_PROCBASED_CTLS: 0x48e,
  TRUE_EXIT_CTLS: 0x48f,
  TRUE_ENTRY_CTLS: 0x490,
  VMFUNC: 0x491,
  /** Tertiary controls; KVM does not offer it to L1 (spec §1.5). */
  PROCBASED_CTLS3: 0x492,
} as const;

const MSR_NAMES: Map<number, string> = new Map(Object.entries(MSR_IA32_VMX).map(([k, v]) => [v, k]));

/** `IA32_VMX_<name>` of a capability MSR index, or hex for anything else. */
export function vmxMsrName(index: number): string {
  const n = MSR_NAMES.get(index);
  return n === undefined ? `0x${index.toString(16)}` : `IA32_VMX_${n}`;
}

// ---------------------------------------------------------------------------------------------
// IA32_VMX_BASIC (SDM A.1; KVM VMX_BASIC_*, vmx_basic_vmcs_*)

export const VMX_BASIC = {
  REVISION_MASK: 0x7fffffffn, // 30:0; bit 31 is always 0
  SIZE_SHIFT: 32n,
  SIZE_MASK: 0x1fffn << 32n, // 44:32, bytes to allocate for the VMCS region
  PHYS_ADDR_32BIT_ONLY: 1n << 48n,
  DUAL_MONITOR_TREATMENT: 1n << 49n,
  MEMTYPE_SHIFT: 50n,
  MEMTYPE_MASK: 0xfn << 50n, // 53:50
  INOUT: 1n << 54n, // VM exits on INS/OUTS report instruction information
  TRUE_CTLS: 1n << 55n, // TRUE_* MSRs 0x48D..0x490 exist; default1 bits may be 0
  NO_HW_ERROR_CODE_CC: 1n << 56n, // no error-code consistency check on event injection
  /** Reserved per spec §1.5: 63:57, 47:45, 31. */
  RESERVED_MASK: (0x7fn << 57n) | (0x7n << 45n) | (1n << 31n),
} as const;

export const VMX_BASIC_BIT_NAMES: Record<number, string> = {
  48: 'PHYS_ADDR_32BIT_ONLY', 49: 'DUAL_MONITOR_TREATMENT', 54: 'INOUT', 55: 'TRUE_CTLS', 56: 'NO_HW_ERROR_CODE_CC',
};

/** Memory types as used by BASIC[53:50], EPTP[2:0] and PAT (SDM 12.3; KVM X86_MEMTYPE_*). */
export const MEMTYPE = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 } as const;

export interface VmxBasic {
  revisionId: number;
  vmcsSize: number;
  physAddr32BitOnly: boolean;
  dualMonitorTreatment: boolean;
  memType: number;
  inOut: boolean;
  trueCtls: boolean;
  noHwErrorCodeCc: boolean;
}

export function decodeVmxBasic(v: bigint): VmxBasic {
  return {
    revisionId: Number(v & VMX_BASIC.REVISION_MASK),
    vmcsSize: Number((v & VMX_BASIC.SIZE_MASK) >> VMX_BASIC.SIZE_SHIFT),
    physAddr32BitOnly: (v & VMX_BASIC.PHYS_ADDR_32BIT_ONLY) !== 0n,
    dualMonitorTreatment: (v & VMX_BASIC.DUAL_MONITOR_TREATMENT) !== 0n,
    memType: Number((v & VMX_BASIC.MEMTYPE_MASK) >> VMX_BASIC.MEMTYPE_SHIFT),
    inOut: (v & VMX_BASIC.INOUT) !== 0n,
    trueCtls: (v & VMX_BASIC.TRUE_CTLS) !== 0n,
    noHwErrorCodeCc: (v & VMX_BASIC.NO_HW_ERROR_CODE_CC) !== 0n,
  };
}

/** Inverse of decodeVmxBasic for in-range fields (KVM vmx_basic_encode_vmcs_info plus flag bits). */
export function encodeVmxBasic(b: VmxBasic): bigint {
  let v = (BigInt(b.revisionId) & VMX_BASIC.REVISION_MASK)
    | ((BigInt(b.vmcsSize) << VMX_BASIC.SIZE_SHIFT) & VMX_BASIC.SIZE_MASK)
    | ((BigInt(b.memType) << VMX_BASIC.MEMTYPE_SHIFT) & VMX_BASIC.MEMTYPE_MASK);
  if (b.physAddr32BitOnly) v |= VMX_BASIC.PHYS_ADDR_32BIT_ONLY;
  if (b.dualMonitorTreatment) v |= VMX_BASIC.DUAL_MONITOR_TREATMENT;
  if (b.inOut) v |= VMX_BASIC.INOUT;
  if (b.trueCtls) v |= VMX_BASIC.TRUE_CTLS;
  if (b.noHwErrorCodeCc) v |= VMX_BASIC.NO_HW_ERROR_CODE_CC;
  return v;
}

// ---------------------------------------------------------------------------------------------
// IA32_VMX_MISC (SDM A.6; KVM VMX_MISC_*, vmx_misc_*)

export const VMX_MISC = {
  PREEMPTION_TIMER_RATE_MASK: 0x1fn, // 4:0, timer ticks every 2^rate TSC ticks
  SAVE_EFER_LMA: 1n << 5n, // VM exit stores EFER.LMA into the IA-32e-mode-guest entry control
  ACTIVITY_HLT: 1n << 6n,
  ACTIVITY_SHUTDOWN: 1n << 7n,
  ACTIVITY_WAIT_SIPI: 1n << 8n,
  INTEL_PT: 1n << 14n,
  RDMSR_IN_SMM: 1n << 15n,
  CR3_TARGET_COUNT_SHIFT: 16n,
  CR3_TARGET_COUNT_MASK: 0x1ffn << 16n, // 24:16
  MAX_MSR_SHIFT: 25n,
  MAX_MSR_MASK: 0x7n << 25n, // 27:25 = N; recommended max MSR-list entries = 512 * (N + 1)
  VMXOFF_BLOCK_SMI: 1n << 28n,
  VMWRITE_SHADOW_RO_FIELDS: 1n << 29n, // VMWRITE may write any supported field, incl. exit info
  ZERO_LEN_INS: 1n << 30n, // VM entry may inject soft events with instruction length 0
  MSEG_REVID_SHIFT: 32n, // 63:32
} as const;

/** KVM VMX_MISC_MSR_LIST_MULTIPLIER. */
export const VMX_MISC_MSR_LIST_MULTIPLIER = 512;
/** KVM VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE: the nested timer ticks every 2^5 TSC ticks. */
export const VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE = 5;

export const VMX_MISC_BIT_NAMES: Record<number, string> = {
  5: 'SAVE_EFER_LMA', 6: 'ACTIVITY_HLT', 7: 'ACTIVITY_SHUTDOWN', 8: 'ACTIVITY_WAIT_SIPI', 14: 'INTEL_PT',
  15: 'RDMSR_IN_SMM', 28: 'VMXOFF_BLOCK_SMI', 29: 'VMWRITE_SHADOW_RO_FIELDS', 30: 'ZERO_LEN_INS',
};

export interface VmxMisc {
  preemptionTimerRate: number;
  saveEferLma: boolean;
  activityHlt: boolean;
  activityShutdown: boolean;
  activityWaitSipi: boolean;
  intelPt: boolean;
  rdmsrInSmm: boolean;
  cr3TargetCount: number;
  /** The raw N of bits 27:25. */
  maxMsrField: number;
  /** 512 * (N + 1): the MSR-list size the model treats as the hard limit (spec §2.4). */
  maxMsrListSize: number;
  vmxoffBlockSmi: boolean;
  vmwriteAnyField: boolean;
  zeroLenIns: boolean;
  msegRevisionId: number;
}

const miscCache = new WeakMap<NestedVmxMsrs, VmxMisc>();

/** The decoded IA32_VMX_MISC of a capability set, computed once per caps object (the engine asks on every entry). */
export function nestedMisc(caps: NestedVmxMsrs): VmxMisc {
  let m = miscCache.get(caps);
  if (m === undefined) {
    m = decodeVmxMisc(controlMsr(caps.miscLow, caps.miscHigh));
    miscCache.set(caps, m);
  }
  return m;
}

export function decodeVmxMisc(v: bigint): VmxMisc {
  const maxMsrField = Number((v & VMX_MISC.MAX_MSR_MASK) >> VMX_MISC.MAX_MSR_SHIFT);
  return {
    preemptionTimerRate: Number(v & VMX_MISC.PREEMPTION_TIMER_RATE_MASK),
    saveEferLma: (v & VMX_MISC.SAVE_EFER_LMA) !== 0n,
    activityHlt: (v & VMX_MISC.ACTIVITY_HLT) !== 0n,
    activityShutdown: (v & VMX_MISC.ACTIVITY_SHUTDOWN) !== 0n,
    activityWaitSipi: (v & VMX_MISC.ACTIVITY_WAIT_SIPI) !== 0n,
    intelPt: (v & VMX_MISC.INTEL_PT) !== 0n,
    rdmsrInSmm: (v & VMX_MISC.RDMSR_IN_SMM) !== 0n,
    cr3TargetCount: Number((v & VMX_MISC.CR3_TARGET_COUNT_MASK) >> VMX_MISC.CR3_TARGET_COUNT_SHIFT),
    maxMsrField,
    maxMsrListSize: VMX_MISC_MSR_LIST_MULTIPLIER * (maxMsrField + 1),
    vmxoffBlockSmi: (v & VMX_MISC.VMXOFF_BLOCK_SMI) !== 0n,
    vmwriteAnyField: (v & VMX_MISC.VMWRITE_SHADOW_RO_FIELDS) !== 0n,
    zeroLenIns: (v & VMX_MISC.ZERO_LEN_INS) !== 0n,
    msegRevisionId: Number((v >> VMX_MISC.MSEG_REVID_SHIFT) & 0xffffffffn),
  };
}

// ---------------------------------------------------------------------------------------------
// IA32_VMX_EPT_VPID_CAP (SDM A.10; KVM VMX_EPT_*_BIT, VMX_VPID_*_BIT). EPT caps are bits 31:0,
// VPID caps bits 63:32 (KVM keeps them as two u32s: ept_caps and vpid_caps).

export const EPT_CAP = {
  EXECUTE_ONLY: 1 << 0,
  PAGE_WALK_4: 1 << 6,
  PAGE_WALK_5: 1 << 7,
  UC: 1 << 8, // EPTP memory type UC allowed
  WB: 1 << 14, // EPTP memory type WB allowed
  PAGE_2MB: 1 << 16,
  PAGE_1GB: 1 << 17,
  INVEPT: 1 << 20,
  AD: 1 << 21, // EPT accessed/dirty flags
  ADVANCED_VMEXIT_INFO: 1 << 22, // EPT-violation qualification bits 9..11
  EXTENT_CONTEXT: 1 << 25, // single-context INVEPT
  EXTENT_GLOBAL: 1 << 26, // all-context INVEPT
} as const;

/** VPID caps as bits of the high dword (KVM VMX_VPID_*_BIT = MSR bit - 32). */
export const VPID_CAP = {
  INVVPID: 1 << 0, // MSR bit 32
  EXTENT_INDIVIDUAL_ADDR: 1 << 8, // 40
  EXTENT_SINGLE_CONTEXT: 1 << 9, // 41
  EXTENT_GLOBAL_CONTEXT: 1 << 10, // 42
  EXTENT_SINGLE_NON_GLOBAL: 1 << 11, // 43
} as const;
/** KVM VMX_VPID_EXTENT_SUPPORTED_MASK: all four INVVPID extents. */
export const VPID_CAP_EXTENT_SUPPORTED_MASK = 0xf00;

export const EPT_CAP_BIT_NAMES: Record<number, string> = {
  0: 'EXECUTE_ONLY', 6: 'PAGE_WALK_4', 7: 'PAGE_WALK_5', 8: 'UC', 14: 'WB', 16: 'PAGE_2MB', 17: 'PAGE_1GB',
  20: 'INVEPT', 21: 'AD', 22: 'ADVANCED_VMEXIT_INFO', 25: 'EXTENT_CONTEXT', 26: 'EXTENT_GLOBAL',
};
export const VPID_CAP_BIT_NAMES: Record<number, string> = {
  0: 'INVVPID', 8: 'EXTENT_INDIVIDUAL_ADDR', 9: 'EXTENT_SINGLE_CONTEXT', 10: 'EXTENT_GLOBAL_CONTEXT',
  11: 'EXTENT_SINGLE_NON_GLOBAL',
};

export function eptVpidCapMsr(eptCaps: number, vpidCaps: number): bigint {
  return BigInt(eptCaps >>> 0) | (BigInt(vpidCaps >>> 0) << 32n);
}

// ---------------------------------------------------------------------------------------------
// Allowed-0 / allowed-1 pairs (SDM A.3-A.5; KVM nested.c vmx_control_verify, nested.h fixed_bits_valid)
//
// A control MSR is `low | high << 32`: a 1 in low (allowed-0 settings) means the control bit must be 1;
// a 0 in high (allowed-1 settings) means it must be 0.

/** Bits that must be 1 (the low dword). */
export function allowed0(msr: bigint): number {
  return Number(msr & 0xffffffffn);
}

/** Bits that may be 1 (the high dword). */
export function allowed1(msr: bigint): number {
  return Number((msr >> 32n) & 0xffffffffn);
}

/** `low | high << 32` (KVM vmx_control_msr). */
export function controlMsr(low: number, high: number): bigint {
  return BigInt(low >>> 0) | (BigInt(high >>> 0) << 32n);
}

/**
 * A control value satisfies the pair: every must-be-1 bit set, no bit outside may-be-1. Note, this
 * equals KVM's `((v & high) | low) == v` when low is within high (true of every MSR KVM builds); for a
 * contradictory pair KVM's form ignores the high dword for low bits, this one rejects every value.
 */
export function controlsValid(value: number, msr: bigint): boolean {
  const v = value >>> 0;
  const low = allowed0(msr);
  const high = allowed1(msr);
  return ((v & low) >>> 0) === low && ((v & ~high) >>> 0) === 0;
}

/** CR0/CR4 against (FIXED0, FIXED1): `((val & fixed1) | fixed0) == val` (KVM fixed_bits_valid). */
export function fixedBitsValid(val: bigint, fixed0: bigint, fixed1: bigint): boolean {
  return ((val & fixed1) | fixed0) === val;
}

// ---------------------------------------------------------------------------------------------
// KVM's nested capability values (nested_vmx_setup_ctls_msrs, kvm-x86 "next"; spec §1.5)

/** The capability MSRs KVM advertises to L1, laid out like KVM's struct nested_vmx_msrs. */
export interface NestedVmxMsrs {
  /** TRUE values only: KVM stores these; the non-TRUE MSRs are derived (vmxMsrValue). */
  pinbasedCtlsLow: number;
  pinbasedCtlsHigh: number;
  procbasedCtlsLow: number;
  procbasedCtlsHigh: number;
  secondaryCtlsLow: number;
  secondaryCtlsHigh: number;
  exitCtlsLow: number;
  exitCtlsHigh: number;
  entryCtlsLow: number;
  entryCtlsHigh: number;
  miscLow: number;
  miscHigh: number;
  eptCaps: number;
  vpidCaps: number;
  basic: bigint;
  cr0Fixed0: bigint;
  cr0Fixed1: bigint;
  cr4Fixed0: bigint;
  cr4Fixed1: bigint;
  vmcsEnum: bigint;
  vmfuncControls: bigint;
}

/** What the host CPU offers (KVM's vmcs_config / vmx_capability); defaults: everything. */
export interface VmxHostCaps {
  pin: number;
  proc: number;
  proc2: number;
  exit: number;
  entry: number;
  /** Host EPT caps (low dword of EPT_VPID_CAP). */
  eptCaps: number;
  /** Host IA32_VMX_MISC low dword. */
  misc: number;
  /** cpu_has_vmx_vmfunc(). */
  vmfunc: boolean;
  /** cpu_has_vmx_basic_inout(). */
  basicInout: boolean;
  /** cpu_has_vmx_basic_no_hw_errcode_cc(); default false so BASIC matches the spec's table. */
  basicNoHwErrcodeCc: boolean;
  /** rdmsr(IA32_VMX_CR0_FIXED1). */
  cr0Fixed1: bigint;
  /** rdmsr(IA32_VMX_CR4_FIXED1). */
  cr4Fixed1: bigint;
}

/**
 * KVM module parameters and build options that gate what is advertised. These are the values after
 * vmx.c hardware_setup has settled them (e.g. a caller modelling "EPT off" should also turn off the
 * options that depend on it); this function does not re-derive them.
 */
export interface KvmNestedVmxOpts {
  /** CONFIG_X86_64: allows HOST_ADDR_SPACE_SIZE, IA32E_MODE, CR8 load/store exiting. */
  x86_64: boolean;
  enableEpt: boolean;
  enableEptAdBits: boolean;
  /** enable_mbec (spec NEW): MODE_BASED_EPT_EXEC under EPT. */
  enableMbec: boolean;
  enableVpid: boolean;
  enableUnrestrictedGuest: boolean;
  flexpriorityEnabled: boolean;
  enableApicv: boolean;
  enableSgx: boolean;
  /** kvm_cpu_cap_has(SHSTK) || kvm_cpu_cap_has(IBT): keeps LOAD_CET_STATE in exit/entry high. */
  cet: boolean;
  /** vmx_umip_emulated(): ORs CR4.UMIP into CR4_FIXED1. */
  umipEmulated: boolean;
  /**
   * VMCS_ENUM, i.e. `max field index << 1` over KVM's vmcs12 field table
   * (nested_vmx_calc_vmcs_enum_msr). 0x32 = TSC_MULTIPLIER (index 0x19) is the highest (spec §1.1).
   */
  vmcsEnum: bigint;
  host: Partial<VmxHostCaps>;
}


/**
 * Note, a host CR4_FIXED1 with every CR4 bit KVM may let a guest set (VME..PKE, CET). Spec §1.5 marks the
 * CPUID-derived rewrite (vmx.c nested_vmx_cr_fixed1_bits_update) as [mem]; this default is not verified.
 */
export const DEFAULT_HOST_CR4_FIXED1 = 0x00f77fffn;

const DEFAULT_HOST: VmxHostCaps = {
  pin: 0xffffffff, proc: 0xffffffff, proc2: 0xffffffff, exit: 0xffffffff, entry: 0xffffffff,
  eptCaps: 0xffffffff, misc: 0xffffffff, vmfunc: true, basicInout: true, basicNoHwErrcodeCc: false,
  cr0Fixed1: 0xffffffffn, cr4Fixed1: DEFAULT_HOST_CR4_FIXED1,
};

export const DEFAULT_KVM_NESTED_VMX_OPTS: Readonly<Omit<KvmNestedVmxOpts, 'host'>> = {
  x86_64: true, enableEpt: true, enableEptAdBits: true, enableMbec: true, enableVpid: true,
  enableUnrestrictedGuest: true, flexpriorityEnabled: true, enableApicv: true, enableSgx: true, cet: true,
  umipEmulated: false, vmcsEnum: 0x32n,
};

const u32 = (x: number): number => x >>> 0;

/**
 * What nested_vmx_setup_ctls_msrs advertises. With the defaults (a host that has everything, every
 * module option on) this reproduces the spec §1.5 table.
 */
export function kvmNestedVmxMsrs(opts: Partial<KvmNestedVmxOpts> = {}): NestedVmxMsrs {
  const o = { ...DEFAULT_KVM_NESTED_VMX_OPTS, ...opts };
  const hw: VmxHostCaps = { ...DEFAULT_HOST, ...(opts.host ?? {}) };

  // nested_vmx_setup_pinbased_ctls: host's external-interrupt / NMI / virtual-NMI (and posted
  // interrupts with APICv); the preemption timer is always offered (KVM emulates it).
  const pinbasedCtlsLow = ALWAYSON_WITHOUT_TRUE_MSR.pin;
  const pinbasedCtlsHigh = u32((hw.pin & (PIN_BASED.EXT_INTR_MASK | PIN_BASED.NMI_EXITING | PIN_BASED.VIRTUAL_NMIS
    | (o.enableApicv ? PIN_BASED.POSTED_INTR : 0)))
    | ALWAYSON_WITHOUT_TRUE_MSR.pin | PIN_BASED.VMX_PREEMPTION_TIMER);

  // nested_vmx_setup_exit_ctls: host-filtered PAT/BNDCFGS/CET (+ address-space size on 64-bit), then
  // always EFER load/save, preemption-timer save, ack-on-exit, PERF_GLOBAL_CTRL load (emulated).
  // "We support free control of debug control saving": SAVE_DEBUG_CONTROLS leaves the must-be-1 set.
  let exitCtlsHigh = u32((hw.exit & ((o.x86_64 ? VM_EXIT.HOST_ADDR_SPACE_SIZE : 0) | VM_EXIT.LOAD_IA32_PAT
    | VM_EXIT.SAVE_IA32_PAT | VM_EXIT.CLEAR_BNDCFGS | VM_EXIT.LOAD_CET_STATE))
    | ALWAYSON_WITHOUT_TRUE_MSR.exit | VM_EXIT.LOAD_IA32_EFER | VM_EXIT.SAVE_IA32_EFER
    | VM_EXIT.SAVE_VMX_PREEMPTION_TIMER | VM_EXIT.ACK_INTR_ON_EXIT | VM_EXIT.LOAD_IA32_PERF_GLOBAL_CTRL);
  if (!o.cet) exitCtlsHigh = u32(exitCtlsHigh & ~VM_EXIT.LOAD_CET_STATE);
  const exitCtlsLow = u32(ALWAYSON_WITHOUT_TRUE_MSR.exit & ~VM_EXIT.SAVE_DEBUG_CONTROLS);

  // nested_vmx_setup_entry_ctls: likewise; SMM and DEACT_DUAL_MONITOR are never offered.
  let entryCtlsHigh = u32((hw.entry & ((o.x86_64 ? VM_ENTRY.IA32E_MODE : 0) | VM_ENTRY.LOAD_IA32_PAT
    | VM_ENTRY.LOAD_BNDCFGS | VM_ENTRY.LOAD_CET_STATE))
    | ALWAYSON_WITHOUT_TRUE_MSR.entry | VM_ENTRY.LOAD_IA32_EFER | VM_ENTRY.LOAD_IA32_PERF_GLOBAL_CTRL);
  if (!o.cet) entryCtlsHigh = u32(entryCtlsHigh & ~VM_ENTRY.LOAD_CET_STATE);
  const entryCtlsLow = u32(ALWAYSON_WITHOUT_TRUE_MSR.entry & ~VM_ENTRY.LOAD_DEBUG_CONTROLS);

  // nested_vmx_setup_cpubased_ctls: host-filtered exiting controls; MSR bitmaps always (KVM can use
  // L1's bitmap even when L0 runs L2 without one). "Free control of CR3 access interception": CR3
  // load/store exiting leave the must-be-1 set. No tertiary controls.
  const c = CPU_BASED;
  const procMask = c.INTR_WINDOW_EXITING | c.NMI_WINDOW_EXITING | c.USE_TSC_OFFSETTING | c.HLT_EXITING
    | c.INVLPG_EXITING | c.MWAIT_EXITING | c.CR3_LOAD_EXITING | c.CR3_STORE_EXITING
    | (o.x86_64 ? c.CR8_LOAD_EXITING | c.CR8_STORE_EXITING : 0)
    | c.MOV_DR_EXITING | c.UNCOND_IO_EXITING | c.USE_IO_BITMAPS | c.MONITOR_TRAP_FLAG | c.MONITOR_EXITING
    | c.RDPMC_EXITING | c.RDTSC_EXITING | c.PAUSE_EXITING | c.TPR_SHADOW | c.ACTIVATE_SECONDARY_CONTROLS;
  const procbasedCtlsHigh = u32((hw.proc & procMask) | ALWAYSON_WITHOUT_TRUE_MSR.cpu | c.USE_MSR_BITMAPS);
  const procbasedCtlsLow = u32(ALWAYSON_WITHOUT_TRUE_MSR.cpu & ~(c.CR3_LOAD_EXITING | c.CR3_STORE_EXITING));

  // nested_vmx_setup_secondary_ctls: host-filtered set, VMCS shadowing always (emulated), then the
  // module-option-gated features. Never PAUSE_LOOP, EPT_VIOLATION_VE, PT_*, BUS_LOCK, NOTIFY.
  const s = SECONDARY;
  let secondaryCtlsHigh = u32(hw.proc2 & (s.DESC | s.ENABLE_RDTSCP | s.VIRTUALIZE_X2APIC_MODE | s.WBINVD_EXITING
    | s.APIC_REGISTER_VIRT | s.VIRTUAL_INTR_DELIVERY | s.RDRAND_EXITING | s.ENABLE_INVPCID | s.ENABLE_VMFUNC
    | s.RDSEED_EXITING | s.ENABLE_XSAVES | s.TSC_SCALING | s.ENABLE_USR_WAIT_PAUSE));
  secondaryCtlsHigh |= s.SHADOW_VMCS;
  let eptCaps = 0;
  let vmfuncControls = 0n;
  if (o.enableEpt) {
    secondaryCtlsHigh |= s.ENABLE_EPT;
    // Host-filtered walk lengths / WB / INVEPT / execute-only / advanced info; then always both INVEPT
    // extents and 2M/1G pages (KVM can shadow large L1 pages with small ones). UC is never offered.
    eptCaps = u32(hw.eptCaps & (EPT_CAP.PAGE_WALK_4 | EPT_CAP.PAGE_WALK_5 | EPT_CAP.WB | EPT_CAP.INVEPT
      | EPT_CAP.EXECUTE_ONLY | EPT_CAP.ADVANCED_VMEXIT_INFO));
    eptCaps = u32(eptCaps | EPT_CAP.EXTENT_GLOBAL | EPT_CAP.EXTENT_CONTEXT | EPT_CAP.PAGE_2MB | EPT_CAP.PAGE_1GB);
    if (o.enableEptAdBits) {
      secondaryCtlsHigh |= s.ENABLE_PML;
      eptCaps = u32(eptCaps | EPT_CAP.AD);
    }
    if (o.enableMbec) secondaryCtlsHigh |= s.MODE_BASED_EPT_EXEC;
    // EPTP switching is emulated in software so long as the host has VMFUNC at all.
    if (hw.vmfunc) vmfuncControls = VMFUNC_CONTROLS.EPTP_SWITCHING;
  }
  // All four INVVPID extents: old KVMs used single-context without checking (treated as all-context).
  const vpidCaps = o.enableVpid ? VPID_CAP.INVVPID | VPID_CAP_EXTENT_SUPPORTED_MASK : 0;
  if (o.enableVpid) secondaryCtlsHigh |= s.ENABLE_VPID;
  if (o.enableUnrestrictedGuest) secondaryCtlsHigh |= s.UNRESTRICTED_GUEST;
  if (o.flexpriorityEnabled) secondaryCtlsHigh |= s.VIRTUALIZE_APIC_ACCESSES;
  if (o.enableSgx) secondaryCtlsHigh |= s.ENCLS_EXITING;

  // nested_vmx_setup_misc_data: host's SAVE_EFER_LMA; VMWRITE to any field, emulated timer rate 5,
  // HLT and WAIT_SIPI activity states. High dword 0 (MSEG revision 0). Hence: CR3-target count 0,
  // MSR lists up to 512 entries, no SHUTDOWN activity state, no zero-length soft-event injection.
  const miscLow = u32((hw.misc & Number(VMX_MISC.SAVE_EFER_LMA)) | Number(VMX_MISC.VMWRITE_SHADOW_RO_FIELDS)
    | VMX_MISC_EMULATED_PREEMPTION_TIMER_RATE | Number(VMX_MISC.ACTIVITY_HLT) | Number(VMX_MISC.ACTIVITY_WAIT_SIPI));

  // nested_vmx_setup_basic: describes vmcs12, not the hardware VMCS. 32BIT_PHYS_ADDR_ONLY never set.
  let basic = encodeVmxBasic({
    revisionId: VMCS12_REVISION, vmcsSize: VMCS12_SIZE, memType: MEMTYPE.WB, trueCtls: true,
    inOut: hw.basicInout, noHwErrorCodeCc: hw.basicNoHwErrcodeCc, physAddr32BitOnly: false,
    dualMonitorTreatment: false,
  });
  basic &= ~VMX_BASIC.RESERVED_MASK;

  // nested_vmx_setup_cr_fixed: CR0 must keep PE|NE|PG, CR4 must keep VMXE; FIXED1 from the host MSRs.
  const cr4Fixed1 = o.umipEmulated ? hw.cr4Fixed1 | (1n << 11n) : hw.cr4Fixed1;

  return {
    pinbasedCtlsLow, pinbasedCtlsHigh, procbasedCtlsLow, procbasedCtlsHigh,
    secondaryCtlsLow: 0, secondaryCtlsHigh: u32(secondaryCtlsHigh),
    exitCtlsLow, exitCtlsHigh, entryCtlsLow, entryCtlsHigh,
    miscLow, miscHigh: 0, eptCaps, vpidCaps, basic,
    cr0Fixed0: 0x80000021n, cr0Fixed1: hw.cr0Fixed1, cr4Fixed0: 0x2000n, cr4Fixed1,
    vmcsEnum: o.vmcsEnum, vmfuncControls,
  };
}

/**
 * The value L1 reads from a capability MSR (KVM vmx_get_vmx_msr), or undefined for an index that is
 * not one (KVM: #GP). The non-TRUE control MSRs are the TRUE value with the default1 bits ORed into
 * the low dword; vmcs12 is checked against the TRUE values.
 */
export function vmxMsrValue(m: NestedVmxMsrs, index: number): bigint | undefined {
  const X = MSR_IA32_VMX;
  switch (index) {
    case X.BASIC: return m.basic;
    case X.TRUE_PINBASED_CTLS: return controlMsr(m.pinbasedCtlsLow, m.pinbasedCtlsHigh);
    case X.PINBASED_CTLS: return controlMsr(m.pinbasedCtlsLow | ALWAYSON_WITHOUT_TRUE_MSR.pin, m.pinbasedCtlsHigh);
    case X.TRUE_PROCBASED_CTLS: return controlMsr(m.procbasedCtlsLow, m.procbasedCtlsHigh);
    case X.PROCBASED_CTLS: return controlMsr(m.procbasedCtlsLow | ALWAYSON_WITHOUT_TRUE_MSR.cpu, m.procbasedCtlsHigh);
    case X.TRUE_EXIT_CTLS: return controlMsr(m.exitCtlsLow, m.exitCtlsHigh);
    case X.EXIT_CTLS: return controlMsr(m.exitCtlsLow | ALWAYSON_WITHOUT_TRUE_MSR.exit, m.exitCtlsHigh);
    case X.TRUE_ENTRY_CTLS: return controlMsr(m.entryCtlsLow, m.entryCtlsHigh);
    case X.ENTRY_CTLS: return controlMsr(m.entryCtlsLow | ALWAYSON_WITHOUT_TRUE_MSR.entry, m.entryCtlsHigh);
    case X.MISC: return controlMsr(m.miscLow, m.miscHigh);
    case X.CR0_FIXED0: return m.cr0Fixed0;
    case X.CR0_FIXED1: return m.cr0Fixed1;
    case X.CR4_FIXED0: return m.cr4Fixed0;
    case X.CR4_FIXED1: return m.cr4Fixed1;
    case X.VMCS_ENUM: return m.vmcsEnum;
    case X.PROCBASED_CTLS2: return controlMsr(m.secondaryCtlsLow, m.secondaryCtlsHigh);
    case X.EPT_VPID_CAP: return eptVpidCapMsr(m.eptCaps, m.vpidCaps);
    case X.VMFUNC: return m.vmfuncControls;
    default: return undefined;
  }
}
