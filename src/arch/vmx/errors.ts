// VM-instruction error numbers (SDM vol. 3C §31.4 "VM Instruction Error Numbers"; KVM asm/vmx.h
// enum vm_instruction_error_number, VMXERR_<name>) and the exit qualifications of a failed VM entry
// (SDM §27.8; KVM enum vm_entry_failure_code). Spec §1.4, §2.1.

/** Error numbers written to the VM-instruction error field by VMfailValid. 14, 21 and 27 are unused. */
export const VMXERR = {
  VMCALL_IN_VMX_ROOT_OPERATION: 1,
  VMCLEAR_INVALID_ADDRESS: 2,
  VMCLEAR_VMXON_POINTER: 3,
  VMLAUNCH_NONCLEAR_VMCS: 4,
  VMRESUME_NONLAUNCHED_VMCS: 5,
  VMRESUME_AFTER_VMXOFF: 6,
  ENTRY_INVALID_CONTROL_FIELD: 7,
  ENTRY_INVALID_HOST_STATE_FIELD: 8,
  VMPTRLD_INVALID_ADDRESS: 9,
  VMPTRLD_VMXON_POINTER: 10,
  VMPTRLD_INCORRECT_VMCS_REVISION_ID: 11,
  UNSUPPORTED_VMCS_COMPONENT: 12,
  VMWRITE_READ_ONLY_VMCS_COMPONENT: 13,
  VMXON_IN_VMX_ROOT_OPERATION: 15,
  ENTRY_INVALID_EXECUTIVE_VMCS_POINTER: 16,
  ENTRY_NONLAUNCHED_EXECUTIVE_VMCS: 17,
  ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER: 18,
  VMCALL_NONCLEAR_VMCS: 19,
  VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS: 20,
  VMCALL_INCORRECT_MSEG_REVISION_ID: 22,
  VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM: 23,
  VMCALL_INVALID_SMM_MONITOR_FEATURES: 24,
  ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS: 25,
  ENTRY_EVENTS_BLOCKED_BY_MOV_SS: 26,
  INVALID_OPERAND_TO_INVEPT_INVVPID: 28,
} as const;

export type VmxErrName = keyof typeof VMXERR;

const NAMES: Map<number, string> = new Map(Object.entries(VMXERR).map(([k, v]) => [v, k]));

/** Name of a VM-instruction error number (KVM VMXERR_<name> without the prefix). */
export function vmxErrorName(n: number): string {
  return NAMES.get(n) ?? `UNKNOWN_${n}`;
}

/**
 * The strings KVM's nested VM-enter tracepoints print for the errors VMLAUNCH/VMRESUME can produce
 * (asm/vmx.h VMX_VMENTER_INSTRUCTION_ERRORS). Note, they differ from the enum names for 7, 8 and 26.
 */
export const VMENTER_INSTRUCTION_ERROR_TRACE_NAMES: Readonly<Record<number, string>> = {
  4: 'VMLAUNCH_NONCLEAR_VMCS',
  5: 'VMRESUME_NONLAUNCHED_VMCS',
  6: 'VMRESUME_AFTER_VMXOFF',
  7: 'VMENTRY_INVALID_CONTROL_FIELD',
  8: 'VMENTRY_INVALID_HOST_STATE_FIELD',
  26: 'VMENTRY_EVENTS_BLOCKED_BY_MOV_SS',
};

/**
 * Exit qualification of a VM exit for a failed VM entry due to invalid guest state (exit 33 with bit 31
 * set; SDM §27.8). 1 is unused. Note, exit 34 (MSR loading) does not use these: its qualification is the
 * 1-based index of the failing MSR-load entry (KVM nested_vmx_load_msr; spec §2.3).
 */
export const ENTRY_FAIL = {
  DEFAULT: 0,
  PDPTE: 2, // failure loading a PDPTE
  NMI: 3, // failure after injecting an NMI when NMI blocking was lifted
  VMCS_LINK_PTR: 4, // invalid VMCS link pointer
} as const;

const ENTRY_FAIL_NAMES: Map<number, string> = new Map(Object.entries(ENTRY_FAIL).map(([k, v]) => [v, k]));

/** KVM ENTRY_FAIL_<name> of an exit-33 qualification. */
export function entryFailureName(qual: number): string {
  return ENTRY_FAIL_NAMES.get(qual) ?? `UNKNOWN_${qual}`;
}
