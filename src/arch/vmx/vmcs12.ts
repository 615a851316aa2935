// struct vmcs12 as data (arch/x86/kvm/vmx/vmcs12.h): one member per row of VMCS12_FIELDS, under
// KVM's member name. u64 and natural-width members are bigint (vmcs12.h stores natural_width as
// u64, so natural-width is 64 bits here whatever L1's bitness); u16/u32 members are number
// (unsigned). The page layout (offsets frozen for migration) is not modelled; the header facts are
// the constants below.

import { accessWidth, isHighAccess } from './encoding.ts';
import { VMCS12_FIELDS, fieldByEncoding, type Vmcs12Field } from './fields.ts';

type Row = (typeof VMCS12_FIELDS)[number];

/** struct vmcs12, one member per VMCS12_FIELDS row: `v.guest_rip` is bigint, `v.vm_exit_reason` number. */
export type Vmcs12 = { [R in Row as R['name']]: R['width'] extends 64 | 'natural' ? bigint : number };

// ---------------------------------------------------------------------------------------------
// struct vmcs12 header (vmcs12.h struct vmcs_hdr + abort + launch_state; spec §1.2)

/** hdr.revision_id L1 must write before VMPTRLD (vmcs12.h VMCS12_REVISION). */
export const VMCS12_REVISION = 0x11e57ed0;
/** Bit 31 of hdr.revision_id: the `shadow_vmcs` flag (SDM "Format of the VMCS Region": shadow-VMCS indicator). */
export const VMCS12_HDR_SHADOW_VMCS = 0x80000000;
/** Bytes of a vmcs12 page (VMCS12_SIZE = KVM_STATE_NESTED_VMX_VMCS_SIZE). */
export const VMCS12_SIZE = 0x1000;
/** Byte offsets of the header members; fields start after padding[7] at 40 (vmcs12.h CHECK_OFFSET). */
export const VMCS12_HDR_OFFSET = {
  revision_id: 0,
  abort: 4,
  launch_state: 8,
  first_field: 40,
} as const;
/** launch_state: 0 after VMCLEAR, 1 after a successful VMLAUNCH (VMLAUNCH needs clear, VMRESUME launched). */
export const VMCS12_LAUNCH_STATE = { CLEAR: 0, LAUNCHED: 1 } as const;

// ---------------------------------------------------------------------------------------------
// construction

function zeroOf(f: Vmcs12Field): bigint | number {
  return f.width === 64 || f.width === 'natural' ? 0n : 0;
}

// Note, a 150-member object built key by key (or copied with spread) ends up in V8's slow
// dictionary mode, which made every copy cost microseconds on the engine's hot path. The zero value
// and the copy are therefore object literals generated once from VMCS12_FIELDS: one fixed shape.
const literalOf = (value: (f: Vmcs12Field) => string): string => `{ ${VMCS12_FIELDS.map((f) => `${f.name}: ${value(f)}`).join(', ')} }`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const makeZero = new Function(`return ${literalOf((f) => (zeroOf(f) === 0n ? '0n' : '0'))};`) as () => Vmcs12;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const copyOf = new Function('v', `return ${literalOf((f) => `v.${f.name} ?? ${zeroOf(f) === 0n ? '0n' : '0'}`)};`) as (v: Vmcs12) => Vmcs12;

/** Every field zero. */
export function zeroVmcs12(): Vmcs12 {
  return makeZero();
}

/** A copy (all members are primitives, so a shallow copy is a deep one). */
export function cloneVmcs12(v: Vmcs12): Vmcs12 {
  return copyOf(v);
}

// ---------------------------------------------------------------------------------------------
// values

/** Any number/bigint as u64: a non-finite number is 0, a fraction is truncated, negatives wrap. */
export function toU64(value: bigint | number): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  return Number.isFinite(value) ? BigInt.asUintN(64, BigInt(Math.trunc(value))) : 0n;
}

/** Bits of the field as stored: 16, 32 or 64 (natural-width is 64). */
export function storageBits(f: Vmcs12Field): 16 | 32 | 64 {
  return f.width === 'natural' ? 64 : f.width;
}

/** The value as the field stores it, truncated to its width and typed as its member. */
export function fieldStoredValue(f: Vmcs12Field, value: bigint | number): bigint | number {
  const x = BigInt.asUintN(storageBits(f), toU64(value));
  return f.width === 64 || f.width === 'natural' ? x : Number(x);
}

/** The member's value as u64, truncated to the field width (robust to out-of-range members). */
export function vmcs12FieldValue(v: Vmcs12, f: Vmcs12Field): bigint {
  const raw = (v as Record<string, bigint | number | undefined>)[f.name];
  return raw === undefined ? 0n : BigInt.asUintN(storageBits(f), toU64(raw));
}

// ---------------------------------------------------------------------------------------------
// VMREAD / VMWRITE (vmcs12.h vmcs12_read_any / vmcs12_write_any)

/**
 * VMREAD of `enc` from vmcs12: the value zero-extended to u64, or undefined when KVM's table has
 * no such field (the engine turns that into VMfailValid(12)). A *_HIGH access reads bits 63:32
 * of the 64-bit field; natural-width reads all 64 bits.
 */
export function vmcs12Get(v: Vmcs12, enc: number): bigint | undefined {
  const ref = fieldByEncoding(enc);
  if (ref === undefined) return undefined;
  const x = vmcs12FieldValue(v, ref.field);
  return ref.access === 'high' ? x >> 32n : x;
}

/**
 * VMWRITE of `value` to `enc` in vmcs12, in place. Returns false (and changes nothing) when KVM's
 * table has no such field. The value is truncated to the access width (KVM vmcs_field_width):
 * 16/32 bits for those fields, 64 for 64-bit and natural-width; a *_HIGH access replaces bits
 * 63:32 with the low 32 bits of `value` and keeps bits 31:0.
 *
 * Note, this is the store alone, as in vmcs12_write_any: the read-only check (VMfailValid(13)
 * without "VMWRITE to any supported field", VMX_MISC bit 29) and L1's operand size (a 32-bit L1
 * supplies a zero-extended 32-bit value) are the caller's.
 */
export function vmcs12Set(v: Vmcs12, enc: number, value: bigint | number): boolean {
  const ref = fieldByEncoding(enc);
  if (ref === undefined) return false;
  const f = ref.field;
  const x = BigInt.asUintN(accessWidth(enc), toU64(value));
  const rec = v as Record<string, bigint | number>;
  if (isHighAccess(enc)) {
    const low = vmcs12FieldValue(v, f) & 0xffffffffn;
    rec[f.name] = (x << 32n) | low;
  } else {
    rec[f.name] = fieldStoredValue(f, x);
  }
  return true;
}
