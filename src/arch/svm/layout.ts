// VMCB byte layout as data: every member of VmcbControl / VmcbSave with its absolute offset in the
// 4 KiB VMCB page and its width. Offsets as per AMD APM vol. 2 Appendix B ("Layout of VMCB"),
// tables B-1 (control area, 0x000-0x3FF) and B-2 (state save area, VMCB offset 0x400 + off), and
// KVM's packed struct vmcb_control_area / vmcb_save_area (arch/x86/include/asm/svm.h), whose
// static asserts fix the control area at 1024 bytes. Anything not listed here is reserved
// (reserved_1..reserved_10, reserved_sw at 0x3E0, the save-area gaps) and encodes as zero.

import type { SegName, VmcbControl, VmcbSave } from './vmcb.ts';

export const VMCB_PAGE_SIZE = 4096;
/** struct vmcb_control_area is 1024 bytes (EXPECTED_VMCB_CONTROL_AREA_SIZE). */
export const VMCB_CONTROL_AREA_SIZE = 0x400;
/** struct vmcb_save_area starts right after the control area. */
export const VMCB_SAVE_AREA_OFFSET = 0x400;
/** The control area (0x000–0x3FF) and save area (0x400–0x6FF): every architecturally defined byte. */
export const VMCB_DEFINED_BYTES = 0x700;

type ScalarKeys<T> = { [K in keyof T]: T[K] extends number | bigint ? K : never }[keyof T];
type ArrayKeys<T> = { [K in keyof T]: T[K] extends number[] ? K : never }[keyof T];

export type VmcbControlScalarName = ScalarKeys<VmcbControl>;
export type VmcbControlArrayName = ArrayKeys<VmcbControl>;
export type VmcbSaveScalarName = ScalarKeys<VmcbSave>;

/** An integer field: u8/u16/u32 decode to number, u64 to bigint. */
export interface VmcbScalarField<N extends string, A extends VmcbArea> {
  readonly name: N;
  readonly area: A;
  readonly offset: number;
  readonly width: 1 | 2 | 4 | 8;
  readonly kind: 'int';
}

/** A fixed-length array of integers (intercepts: 6 x u32; insn_bytes: 15 x u8). */
export interface VmcbArrayField {
  readonly name: VmcbControlArrayName;
  readonly area: 'control';
  readonly offset: number;
  readonly width: number; // elemWidth * count
  readonly kind: 'array';
  readonly elemWidth: 1 | 4;
  readonly count: number;
}

/** A struct vmcb_seg, 16 bytes; sub-fields in VMCB_SEG_FIELDS. */
export interface VmcbSegField {
  readonly name: SegName;
  readonly area: 'save';
  readonly offset: number;
  readonly width: 16;
  readonly kind: 'seg';
}

export type VmcbArea = 'control' | 'save';
export type VmcbControlField = VmcbScalarField<VmcbControlScalarName, 'control'> | VmcbArrayField;
export type VmcbSaveField = VmcbScalarField<VmcbSaveScalarName, 'save'> | VmcbSegField;
export type VmcbField = VmcbControlField | VmcbSaveField;

/** struct vmcb_seg (APM table B-2 "segment" entries): offsets relative to the record. */
export const VMCB_SEG_FIELDS = [
  { name: 'selector', offset: 0x0, width: 2 },
  { name: 'attrib', offset: 0x2, width: 2 },
  { name: 'limit', offset: 0x4, width: 4 },
  { name: 'base', offset: 0x8, width: 8 },
] as const;

/** APM vol. 2 table B-1, struct vmcb_control_area. In offset order. */
export const VMCB_CONTROL_FIELDS = [
  { name: 'intercepts', area: 'control', offset: 0x000, width: 24, kind: 'array', elemWidth: 4, count: 6 },
  // 0x018..0x03B reserved_1[9]
  { name: 'pause_filter_thresh', area: 'control', offset: 0x03c, width: 2, kind: 'int' },
  { name: 'pause_filter_count', area: 'control', offset: 0x03e, width: 2, kind: 'int' },
  { name: 'iopm_base_pa', area: 'control', offset: 0x040, width: 8, kind: 'int' },
  { name: 'msrpm_base_pa', area: 'control', offset: 0x048, width: 8, kind: 'int' },
  { name: 'tsc_offset', area: 'control', offset: 0x050, width: 8, kind: 'int' },
  { name: 'asid', area: 'control', offset: 0x058, width: 4, kind: 'int' },
  { name: 'tlb_ctl', area: 'control', offset: 0x05c, width: 1, kind: 'int' },
  { name: 'erap_ctl', area: 'control', offset: 0x05d, width: 1, kind: 'int' },
  // 0x05E..0x05F reserved_2
  { name: 'int_ctl', area: 'control', offset: 0x060, width: 4, kind: 'int' },
  { name: 'int_vector', area: 'control', offset: 0x064, width: 4, kind: 'int' },
  { name: 'int_state', area: 'control', offset: 0x068, width: 4, kind: 'int' },
  // 0x06C..0x06F reserved_3
  // Note, older trees split this into u32 exit_code @0x070 + u32 exit_code_hi @0x074; same bytes.
  { name: 'exit_code', area: 'control', offset: 0x070, width: 8, kind: 'int' },
  { name: 'exit_info_1', area: 'control', offset: 0x078, width: 8, kind: 'int' },
  { name: 'exit_info_2', area: 'control', offset: 0x080, width: 8, kind: 'int' },
  { name: 'exit_int_info', area: 'control', offset: 0x088, width: 4, kind: 'int' },
  { name: 'exit_int_info_err', area: 'control', offset: 0x08c, width: 4, kind: 'int' },
  { name: 'misc_ctl', area: 'control', offset: 0x090, width: 8, kind: 'int' },
  { name: 'avic_vapic_bar', area: 'control', offset: 0x098, width: 8, kind: 'int' },
  { name: 'ghcb_gpa', area: 'control', offset: 0x0a0, width: 8, kind: 'int' },
  { name: 'event_inj', area: 'control', offset: 0x0a8, width: 4, kind: 'int' },
  { name: 'event_inj_err', area: 'control', offset: 0x0ac, width: 4, kind: 'int' },
  { name: 'nested_cr3', area: 'control', offset: 0x0b0, width: 8, kind: 'int' },
  { name: 'misc_ctl2', area: 'control', offset: 0x0b8, width: 8, kind: 'int' },
  { name: 'clean', area: 'control', offset: 0x0c0, width: 4, kind: 'int' },
  // 0x0C4..0x0C7 reserved_5
  { name: 'next_rip', area: 'control', offset: 0x0c8, width: 8, kind: 'int' },
  { name: 'insn_len', area: 'control', offset: 0x0d0, width: 1, kind: 'int' },
  { name: 'insn_bytes', area: 'control', offset: 0x0d1, width: 15, kind: 'array', elemWidth: 1, count: 15 },
  { name: 'avic_backing_page', area: 'control', offset: 0x0e0, width: 8, kind: 'int' },
  // 0x0E8..0x0EF reserved_6
  { name: 'avic_logical_id', area: 'control', offset: 0x0f0, width: 8, kind: 'int' },
  { name: 'avic_physical_id', area: 'control', offset: 0x0f8, width: 8, kind: 'int' },
  // 0x100..0x107 reserved_7
  { name: 'vmsa_pa', area: 'control', offset: 0x108, width: 8, kind: 'int' },
  // 0x110..0x11F reserved_8
  { name: 'bus_lock_counter', area: 'control', offset: 0x120, width: 2, kind: 'int' },
  // 0x122..0x137 reserved_9
  { name: 'allowed_sev_features', area: 'control', offset: 0x138, width: 8, kind: 'int' },
  { name: 'guest_sev_features', area: 'control', offset: 0x140, width: 8, kind: 'int' },
  // 0x148..0x3DF reserved_10; 0x3E0..0x3FF reserved_sw (hv_enlightenments), not modelled.
] as const satisfies readonly VmcbControlField[];

/** APM vol. 2 table B-2, struct vmcb_save_area (VMCB offset = 0x400 + struct offset). In offset order. */
export const VMCB_SAVE_FIELDS = [
  { name: 'es', area: 'save', offset: 0x400, width: 16, kind: 'seg' },
  { name: 'cs', area: 'save', offset: 0x410, width: 16, kind: 'seg' },
  { name: 'ss', area: 'save', offset: 0x420, width: 16, kind: 'seg' },
  { name: 'ds', area: 'save', offset: 0x430, width: 16, kind: 'seg' },
  { name: 'fs', area: 'save', offset: 0x440, width: 16, kind: 'seg' },
  { name: 'gs', area: 'save', offset: 0x450, width: 16, kind: 'seg' },
  { name: 'gdtr', area: 'save', offset: 0x460, width: 16, kind: 'seg' },
  { name: 'ldtr', area: 'save', offset: 0x470, width: 16, kind: 'seg' },
  { name: 'idtr', area: 'save', offset: 0x480, width: 16, kind: 'seg' },
  { name: 'tr', area: 'save', offset: 0x490, width: 16, kind: 'seg' },
  // 0x4A0..0x4C9 reserved
  { name: 'vmpl', area: 'save', offset: 0x4ca, width: 1, kind: 'int' },
  { name: 'cpl', area: 'save', offset: 0x4cb, width: 1, kind: 'int' },
  // 0x4CC..0x4CF reserved
  { name: 'efer', area: 'save', offset: 0x4d0, width: 8, kind: 'int' },
  // 0x4D8..0x547 reserved
  { name: 'cr4', area: 'save', offset: 0x548, width: 8, kind: 'int' },
  { name: 'cr3', area: 'save', offset: 0x550, width: 8, kind: 'int' },
  { name: 'cr0', area: 'save', offset: 0x558, width: 8, kind: 'int' },
  { name: 'dr7', area: 'save', offset: 0x560, width: 8, kind: 'int' },
  { name: 'dr6', area: 'save', offset: 0x568, width: 8, kind: 'int' },
  { name: 'rflags', area: 'save', offset: 0x570, width: 8, kind: 'int' },
  { name: 'rip', area: 'save', offset: 0x578, width: 8, kind: 'int' },
  // 0x580..0x5D7 reserved
  { name: 'rsp', area: 'save', offset: 0x5d8, width: 8, kind: 'int' },
  { name: 's_cet', area: 'save', offset: 0x5e0, width: 8, kind: 'int' },
  { name: 'ssp', area: 'save', offset: 0x5e8, width: 8, kind: 'int' },
  { name: 'isst_addr', area: 'save', offset: 0x5f0, width: 8, kind: 'int' },
  { name: 'rax', area: 'save', offset: 0x5f8, width: 8, kind: 'int' },
  { name: 'star', area: 'save', offset: 0x600, width: 8, kind: 'int' },
  { name: 'lstar', area: 'save', offset: 0x608, width: 8, kind: 'int' },
  { name: 'cstar', area: 'save', offset: 0x610, width: 8, kind: 'int' },
  { name: 'sfmask', area: 'save', offset: 0x618, width: 8, kind: 'int' },
  { name: 'kernel_gs_base', area: 'save', offset: 0x620, width: 8, kind: 'int' },
  { name: 'sysenter_cs', area: 'save', offset: 0x628, width: 8, kind: 'int' },
  { name: 'sysenter_esp', area: 'save', offset: 0x630, width: 8, kind: 'int' },
  { name: 'sysenter_eip', area: 'save', offset: 0x638, width: 8, kind: 'int' },
  { name: 'cr2', area: 'save', offset: 0x640, width: 8, kind: 'int' },
  // 0x648..0x667 reserved
  { name: 'g_pat', area: 'save', offset: 0x668, width: 8, kind: 'int' },
  { name: 'dbgctl', area: 'save', offset: 0x670, width: 8, kind: 'int' },
  { name: 'br_from', area: 'save', offset: 0x678, width: 8, kind: 'int' },
  { name: 'br_to', area: 'save', offset: 0x680, width: 8, kind: 'int' },
  { name: 'last_excp_from', area: 'save', offset: 0x688, width: 8, kind: 'int' },
  { name: 'last_excp_to', area: 'save', offset: 0x690, width: 8, kind: 'int' },
  // 0x698..0x6DF reserved
  { name: 'spec_ctrl', area: 'save', offset: 0x6e0, width: 8, kind: 'int' }, // KVM-only use
  // 0x6E8..0xFFF reserved
] as const satisfies readonly VmcbSaveField[];

// Compile-time exhaustiveness: every member of VmcbControl / VmcbSave has a row above.
type Unlisted<T, L extends readonly { name: string }[]> = Exclude<keyof T, L[number]['name']>;
const controlTableIsComplete: [Unlisted<VmcbControl, typeof VMCB_CONTROL_FIELDS>] extends [never] ? true : never = true;
const saveTableIsComplete: [Unlisted<VmcbSave, typeof VMCB_SAVE_FIELDS>] extends [never] ? true : never = true;
void controlTableIsComplete;
void saveTableIsComplete;

/** All fields, control then save, in offset order. */
export const VMCB_FIELDS: readonly VmcbField[] = [...VMCB_CONTROL_FIELDS, ...VMCB_SAVE_FIELDS];

/** A fresh 4096-byte map: 1 where some field covers the byte, 0 at reserved offsets. */
export function vmcbFieldMask(): Uint8Array {
  const mask = new Uint8Array(VMCB_PAGE_SIZE);
  for (const f of VMCB_FIELDS) mask.fill(1, f.offset, f.offset + f.width);
  return mask;
}
