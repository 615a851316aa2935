// VMCS component encodings, as per Intel SDM vol. 3D Appendix B ("Field Encoding in VMCS"),
// table B-1 "Structure of VMCS Component Encoding", and KVM's helpers in arch/x86/kvm/vmx/vmcs.h
// (vmcs_field_width / vmcs_field_type / vmcs_field_index / vmcs_field_readonly) and vmcs12.h
// (ROL16 lookup in get_vmcs12_field_offset). Pure bit anatomy: which fields exist is fields.ts.
//
//   bit 0      access type: 0 = full, 1 = high (bits 63:32 of a 64-bit field; encoding = full + 1)
//   bits 9:1   index
//   bits 11:10 type: 0 control, 1 VM-exit information (read-only data), 2 guest state, 3 host state
//   bit 12     reserved, must be 0
//   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural-width
//   bits 31:15 reserved, must be 0 (KVM: `field >> 15` nonzero => not a vmcs12 field)

/** The width of a field, as in the encoding's bits 14:13. */
export type VmcsFieldWidth = 16 | 32 | 64 | 'natural';
/** The type of a field, as in the encoding's bits 11:10 (SDM names: control, VM-exit information, guest-state, host-state). */
export type VmcsFieldGroup = 'control' | 'exit-info' | 'guest' | 'host';
/** Access type, bit 0: "full" (the whole field) or "high" (bits 63:32 of a 64-bit field). */
export type VmcsFieldAccess = 'full' | 'high';

/** Bit positions and masks of table B-1. */
export const VMCS_ENC = {
  ACCESS_HIGH: 0x1,
  INDEX_SHIFT: 1,
  INDEX_MASK: 0x1ff, // bits 9:1 after the shift
  TYPE_SHIFT: 10,
  TYPE_MASK: 0x3,
  RESERVED_BIT12: 1 << 12,
  WIDTH_SHIFT: 13,
  WIDTH_MASK: 0x3,
  /** Bits 31:15 must be zero. */
  RESERVED_HIGH_MASK: 0xffff8000,
} as const;

/** Raw values of bits 11:10 (KVM enum vmcs_field_type). */
export const VMCS_FIELD_TYPE = { CONTROL: 0, VMEXIT_INFO: 1, GUEST: 2, HOST: 3 } as const;
/** Raw values of bits 14:13 (KVM enum vmcs_field_width). */
export const VMCS_FIELD_WIDTH = { U16: 0, U64: 1, U32: 2, NATURAL_WIDTH: 3 } as const;

const WIDTHS: readonly VmcsFieldWidth[] = [16, 64, 32, 'natural'];
const GROUPS: readonly VmcsFieldGroup[] = ['control', 'exit-info', 'guest', 'host'];

/** The encoding as an unsigned 32-bit integer (VMREAD/VMWRITE take the encoding from a 32-bit operand). */
function u32(enc: number): number {
  return Number.isFinite(enc) ? Math.trunc(enc) >>> 0 : 0;
}

/** Width bits 14:13 of the encoding (the field's width, whatever the access type). */
export function fieldWidth(enc: number): VmcsFieldWidth {
  return WIDTHS[(u32(enc) >>> VMCS_ENC.WIDTH_SHIFT) & VMCS_ENC.WIDTH_MASK];
}

/** Type bits 11:10 of the encoding. */
export function fieldType(enc: number): VmcsFieldGroup {
  return GROUPS[(u32(enc) >>> VMCS_ENC.TYPE_SHIFT) & VMCS_ENC.TYPE_MASK];
}

/** Index bits 9:1 (KVM vmcs_field_index). */
export function fieldIndex(enc: number): number {
  return (u32(enc) >>> VMCS_ENC.INDEX_SHIFT) & VMCS_ENC.INDEX_MASK;
}

/** Access-type bit 0: the encoding names bits 63:32 of a 64-bit field. */
export function isHighAccess(enc: number): boolean {
  return (u32(enc) & VMCS_ENC.ACCESS_HIGH) !== 0;
}

/**
 * Type 1, "VM-exit information" (formerly "read-only data"); KVM vmcs_field_readonly. Note, a
 * VMWRITE to such a field fails (VMfailValid 13) only without IA32_VMX_MISC bit 29; that decision
 * belongs to the engine, not here.
 */
export function isReadOnlyField(enc: number): boolean {
  return ((u32(enc) >>> VMCS_ENC.TYPE_SHIFT) & VMCS_ENC.TYPE_MASK) === VMCS_FIELD_TYPE.VMEXIT_INFO;
}

/**
 * Width of the value a VMREAD/VMWRITE moves for this encoding, after KVM vmcs_field_width: a
 * high access moves 32 bits; natural-width is 64 bits here (vmcs12 stores natural_width as u64).
 */
export function accessWidth(enc: number): 16 | 32 | 64 {
  if (isHighAccess(enc)) return 32;
  const w = fieldWidth(enc);
  return w === 'natural' ? 64 : w;
}

/**
 * The shape rules of table B-1: bits 31:15 and bit 12 clear, and a high access only on a 64-bit
 * field ("must be full for 16-bit, 32-bit, and natural-width fields"). Shape only: whether KVM's
 * vmcs12 has the field is fieldByEncoding (fields.ts).
 */
export function isWellFormedEncoding(enc: number): boolean {
  if (!Number.isInteger(enc) || enc < 0 || enc > 0xffffffff) return false;
  if ((enc & VMCS_ENC.RESERVED_HIGH_MASK) !== 0 || (enc & VMCS_ENC.RESERVED_BIT12) !== 0) return false;
  return !isHighAccess(enc) || fieldWidth(enc) === 64;
}

/** The *_HIGH encoding of a 64-bit field (asm/vmx.h `X_HIGH = X + 1`). */
export function highEncoding(enc: number): number {
  return (u32(enc) | VMCS_ENC.ACCESS_HIGH) >>> 0;
}

/** The full-access encoding (bit 0 cleared). */
export function fullEncoding(enc: number): number {
  return (u32(enc) & ~VMCS_ENC.ACCESS_HIGH) >>> 0;
}

/** Build an encoding from its parts (table B-1). */
export function makeEncoding(parts: {
  group: VmcsFieldGroup;
  width: VmcsFieldWidth;
  index: number;
  access?: VmcsFieldAccess;
}): number {
  const w = WIDTHS.indexOf(parts.width);
  const t = GROUPS.indexOf(parts.group);
  return (
    ((w << VMCS_ENC.WIDTH_SHIFT) |
      (t << VMCS_ENC.TYPE_SHIFT) |
      ((parts.index & VMCS_ENC.INDEX_MASK) << VMCS_ENC.INDEX_SHIFT) |
      (parts.access === 'high' ? VMCS_ENC.ACCESS_HIGH : 0)) >>>
    0
  );
}

/**
 * KVM's slot for an encoding in vmcs12_field_offsets[]: ROL16(field, 6), i.e. the 16-bit
 * rotate-left by 6 (vmcs12.h get_vmcs12_field_offset). Defined for encodings with bits 31:16 clear.
 */
export function kvmFieldTableIndex(enc: number): number {
  const f = u32(enc) & 0xffff;
  return ((f << 6) | (f >>> 10)) & 0xffff;
}

/** Every part of an encoding, decoded. */
export interface VmcsEncodingParts {
  encoding: number;
  access: VmcsFieldAccess;
  index: number;
  group: VmcsFieldGroup;
  width: VmcsFieldWidth;
  readOnly: boolean;
  /** Bits 31:15 and 12, nonzero when the encoding breaks table B-1. */
  reserved: number;
  wellFormed: boolean;
}

export function decodeEncoding(enc: number): VmcsEncodingParts {
  const e = u32(enc);
  return {
    encoding: e,
    access: isHighAccess(e) ? 'high' : 'full',
    index: fieldIndex(e),
    group: fieldType(e),
    width: fieldWidth(e),
    readOnly: isReadOnlyField(e),
    reserved: (e & (VMCS_ENC.RESERVED_HIGH_MASK | VMCS_ENC.RESERVED_BIT12)) >>> 0,
    wellFormed: isWellFormedEncoding(enc),
  };
}

/** `0x4` zero-padded to 4 hex digits (8 when bits 31:16 are set), as the SDM prints encodings. */
export function encodingHex(enc: number): string {
  const e = u32(enc);
  return `0x${e.toString(16).padStart(e > 0xffff ? 8 : 4, '0')}`;
}

/**
 * One line of table B-1 anatomy, e.g. `0x2001: 64-bit control, index 0, high`,
 * `0x681e: natural-width guest, index 15, full`; reserved bits and a high access on a non-64-bit
 * field are flagged.
 */
export function describeEncoding(enc: number): string {
  const p = decodeEncoding(enc);
  const width = p.width === 'natural' ? 'natural-width' : `${p.width}-bit`;
  let s = `${encodingHex(p.encoding)}: ${width} ${p.group}, index ${p.index}, ${p.access}`;
  if (p.readOnly) s += ', read-only';
  if (p.reserved !== 0) s += `, RSVD=0x${p.reserved.toString(16)}`;
  if (p.access === 'high' && p.width !== 64) s += ', high access on a non-64-bit field';
  return s;
}
