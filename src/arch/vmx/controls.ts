// VMX control-field bits (SDM vol. 3C §25.6 "VM-Execution Control Fields", §25.7 VM-exit controls,
// §25.8 VM-entry controls; KVM arch/x86/include/asm/vmx.h + vmxfeatures.h). Names are KVM's macro names
// without the group prefix (PIN_BASED_, CPU_BASED_, SECONDARY_EXEC_, VM_EXIT_, VM_ENTRY_). Spec §1.4.
// Numbers only, no behaviour. Control fields are 32 bits wide; values are unsigned 32-bit numbers.

const bit = (n: number): number => (n === 31 ? 0x80000000 : 1 << n);

/** Pin-based VM-execution controls (SDM Table 25-5; KVM PIN_BASED_*). */
export const PIN_BASED = {
  EXT_INTR_MASK: bit(0),
  NMI_EXITING: bit(3),
  VIRTUAL_NMIS: bit(5),
  VMX_PREEMPTION_TIMER: bit(6),
  POSTED_INTR: bit(7),
} as const;

/** Primary processor-based VM-execution controls (SDM Table 25-6; KVM CPU_BASED_*). */
export const CPU_BASED = {
  INTR_WINDOW_EXITING: bit(2),
  USE_TSC_OFFSETTING: bit(3),
  HLT_EXITING: bit(7),
  INVLPG_EXITING: bit(9),
  MWAIT_EXITING: bit(10),
  RDPMC_EXITING: bit(11),
  RDTSC_EXITING: bit(12),
  CR3_LOAD_EXITING: bit(15),
  CR3_STORE_EXITING: bit(16),
  ACTIVATE_TERTIARY_CONTROLS: bit(17),
  CR8_LOAD_EXITING: bit(19),
  CR8_STORE_EXITING: bit(20),
  TPR_SHADOW: bit(21),
  NMI_WINDOW_EXITING: bit(22),
  MOV_DR_EXITING: bit(23),
  UNCOND_IO_EXITING: bit(24),
  USE_IO_BITMAPS: bit(25),
  MONITOR_TRAP_FLAG: bit(27),
  USE_MSR_BITMAPS: bit(28),
  MONITOR_EXITING: bit(29),
  PAUSE_EXITING: bit(30),
  ACTIVATE_SECONDARY_CONTROLS: bit(31),
} as const;

/**
 * Secondary processor-based VM-execution controls (SDM Table 25-7; KVM SECONDARY_EXEC_*).
 * Note, the SDM defines a few more bits (e.g. 23, sub-page write permissions) that KVM has no
 * SECONDARY_EXEC_ name for; they are not listed and decode as BIT_<n>.
 */
export const SECONDARY = {
  VIRTUALIZE_APIC_ACCESSES: bit(0),
  ENABLE_EPT: bit(1),
  DESC: bit(2),
  ENABLE_RDTSCP: bit(3),
  VIRTUALIZE_X2APIC_MODE: bit(4),
  ENABLE_VPID: bit(5),
  WBINVD_EXITING: bit(6),
  UNRESTRICTED_GUEST: bit(7),
  APIC_REGISTER_VIRT: bit(8),
  VIRTUAL_INTR_DELIVERY: bit(9),
  PAUSE_LOOP_EXITING: bit(10),
  RDRAND_EXITING: bit(11),
  ENABLE_INVPCID: bit(12),
  ENABLE_VMFUNC: bit(13),
  SHADOW_VMCS: bit(14),
  ENCLS_EXITING: bit(15),
  RDSEED_EXITING: bit(16),
  ENABLE_PML: bit(17),
  EPT_VIOLATION_VE: bit(18),
  PT_CONCEAL_VMX: bit(19),
  ENABLE_XSAVES: bit(20),
  MODE_BASED_EPT_EXEC: bit(22),
  PT_USE_GPA: bit(24),
  TSC_SCALING: bit(25),
  ENABLE_USR_WAIT_PAUSE: bit(26),
  BUS_LOCK_DETECTION: bit(30),
  NOTIFY_VM_EXITING: bit(31),
} as const;

/**
 * Primary VM-exit controls (SDM Table 25-13; KVM VM_EXIT_*). LOAD_CET_STATE is in kvm-x86 "next"
 * (spec NEW) only. Note, the 2008 copy of asm/vmx.h had SAVE_DEBUG_CONTROLS = bit 1; it is bit 2.
 */
export const VM_EXIT = {
  SAVE_DEBUG_CONTROLS: bit(2),
  HOST_ADDR_SPACE_SIZE: bit(9),
  LOAD_IA32_PERF_GLOBAL_CTRL: bit(12),
  ACK_INTR_ON_EXIT: bit(15),
  SAVE_IA32_PAT: bit(18),
  LOAD_IA32_PAT: bit(19),
  SAVE_IA32_EFER: bit(20),
  LOAD_IA32_EFER: bit(21),
  SAVE_VMX_PREEMPTION_TIMER: bit(22),
  CLEAR_BNDCFGS: bit(23),
  PT_CONCEAL_PIP: bit(24),
  CLEAR_IA32_RTIT_CTL: bit(25),
  LOAD_CET_STATE: bit(28),
  ACTIVATE_SECONDARY_CONTROLS: bit(31),
} as const;

/**
 * VM-entry controls (SDM Table 25-15; KVM VM_ENTRY_*). LOAD_CET_STATE is spec NEW only.
 * Note, Intel's mainline-tracking tree also has LOAD_IA32_FRED (bit 23); upstream KVM does not, so it
 * is not modelled.
 */
export const VM_ENTRY = {
  LOAD_DEBUG_CONTROLS: bit(2),
  IA32E_MODE: bit(9),
  SMM: bit(10),
  DEACT_DUAL_MONITOR: bit(11),
  LOAD_IA32_PERF_GLOBAL_CTRL: bit(13),
  LOAD_IA32_PAT: bit(14),
  LOAD_IA32_EFER: bit(15),
  LOAD_BNDCFGS: bit(16),
  PT_CONCEAL_PIP: bit(17),
  LOAD_IA32_RTIT_CTL: bit(18),
  LOAD_CET_STATE: bit(20),
} as const;

/** VM-function controls (64-bit field, SDM §25.6.14; KVM VMX_VMFUNC_*). */
export const VMFUNC_CONTROLS = { EPTP_SWITCHING: 1n << 0n } as const;
/** Entries in the EPTP list used by EPTP switching (KVM VMFUNC_EPTP_ENTRIES). */
export const VMFUNC_EPTP_ENTRIES = 512;

/**
 * Default1 ("always-on without TRUE MSRs") bits per group: reserved bits that read as 1 in the
 * non-TRUE capability MSRs (SDM App. A.2; KVM *_ALWAYSON_WITHOUT_TRUE_MSR). Spec §1.4.
 */
export const ALWAYSON_WITHOUT_TRUE_MSR = {
  pin: 0x00000016, // bits 1, 2, 4
  cpu: 0x0401e172, // bits 1, 4, 5, 6, 8, 13, 14, 15, 16, 26
  exit: 0x00036dff, // bits 0-8, 10, 11, 13, 14, 16, 17
  entry: 0x000011ff, // bits 0-8, 12
} as const;

export type ControlGroup = 'pin' | 'cpu' | 'secondary' | 'exit' | 'entry';

function namesByBit(bits: Readonly<Record<string, number>>): Readonly<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const [name, mask] of Object.entries(bits)) out[31 - Math.clz32(mask)] = name;
  return out;
}

/** Single-bit names of each control group for decoders, keyed by bit position. */
export const PIN_BASED_BIT_NAMES = namesByBit(PIN_BASED);
export const CPU_BASED_BIT_NAMES = namesByBit(CPU_BASED);
export const SECONDARY_BIT_NAMES = namesByBit(SECONDARY);
export const VM_EXIT_BIT_NAMES = namesByBit(VM_EXIT);
export const VM_ENTRY_BIT_NAMES = namesByBit(VM_ENTRY);

/** Every group: its bits by name, its names by bit, and its default1 mask (0 where there is none). */
export const CONTROL_GROUPS: Readonly<Record<ControlGroup, {
  readonly bits: Readonly<Record<string, number>>;
  readonly names: Readonly<Record<number, string>>;
  readonly default1: number;
}>> = {
  pin: { bits: PIN_BASED, names: PIN_BASED_BIT_NAMES, default1: ALWAYSON_WITHOUT_TRUE_MSR.pin },
  cpu: { bits: CPU_BASED, names: CPU_BASED_BIT_NAMES, default1: ALWAYSON_WITHOUT_TRUE_MSR.cpu },
  secondary: { bits: SECONDARY, names: SECONDARY_BIT_NAMES, default1: 0 },
  exit: { bits: VM_EXIT, names: VM_EXIT_BIT_NAMES, default1: ALWAYSON_WITHOUT_TRUE_MSR.exit },
  entry: { bits: VM_ENTRY, names: VM_ENTRY_BIT_NAMES, default1: ALWAYSON_WITHOUT_TRUE_MSR.entry },
};

/**
 * Names of the bits set in a control value, in bit order. A set bit with no name is `DEFAULT1_<n>`
 * when it is one of the group's default1 bits, else `BIT_<n>`.
 */
export function describeControls(group: ControlGroup, value: number): string[] {
  const g = CONTROL_GROUPS[group];
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    if (((value >>> b) & 1) === 0) continue;
    const name = g.names[b];
    if (name !== undefined) out.push(name);
    else out.push(((g.default1 >>> b) & 1) === 1 ? `DEFAULT1_${b}` : `BIT_${b}`);
  }
  return out;
}
