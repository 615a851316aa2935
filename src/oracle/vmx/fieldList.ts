// A vmcs12 as the harness's input page: (u32 encoding, u32 pad, u64 value) per field, ended by
// encoding 0xFFFFFFFF (harness/vmx.asm). Only fields the engine's vmcs12 holds (arch/vmx/fields.ts,
// KVM's vmcs12 table) and only non-zero ones: the harness zeroes the VMCS region before VMCLEAR, so
// a field left out is 0 on both sides. Two exceptions:
//   - the host fields the harness writes defaults for are always written (a state that clears
//     one, e.g. HOST_TR_SELECTOR = 0, must override the default);
//   - fields the CPU model lacks (the adapter's measured list) are never written: VMWRITE would
//     fail with error 12 (SDM 31.4 VMWRITE: unsupported VMCS component), and without the field the
//     model cannot have the control that makes it matter either, so the control check decides.
// VM-exit information fields are read-only without "VMWRITE to any supported field" (SDM 25.11.3,
// VMX_MISC[29]) and the harness never needs them: they are left out.

import { VMCS12_FIELDS } from '../../arch/vmx/fields.ts';
import { vmcs12FieldValue, type Vmcs12 } from '../../arch/vmx/vmcs12.ts';
import { VMX_STATE_BYTES } from '../bochs.ts';

export const LIST_END = 0xffffffff;

/** harness/vmx.asm host_defaults: HOST_CR0/CR3/CR4, TR/GDTR/IDTR bases, RSP, RIP, the seven selectors, HOST_IA32_EFER. */
export const HARNESS_HOST_DEFAULTS: ReadonlySet<number> = new Set([
  0x6c00, 0x6c02, 0x6c04, 0x6c0a, 0x6c0c, 0x6c0e, 0x6c14, 0x6c16, 0x0c00, 0x0c02, 0x0c04, 0x0c06, 0x0c08, 0x0c0a, 0x0c0c, 0x2c02,
]);

/** The (encoding, value) pairs the harness writes for this vmcs12, in encoding order. */
export function vmcs12FieldList(v: Vmcs12, absent: ReadonlySet<number> = new Set()): [number, bigint][] {
  const out: [number, bigint][] = [];
  for (const f of VMCS12_FIELDS) {
    if (f.readOnly || absent.has(f.encoding)) continue;
    const x = vmcs12FieldValue(v, f);
    if (x !== 0n || HARNESS_HOST_DEFAULTS.has(f.encoding)) out.push([f.encoding, x]);
  }
  return out;
}

/** The state page (VMX_STATE_BYTES long). */
export function encodeVmxStatePage(v: Vmcs12, absent: ReadonlySet<number> = new Set()): Uint8Array {
  const page = new Uint8Array(VMX_STATE_BYTES);
  encodeVmxStateInto(page, v, absent);
  return page;
}

/** The state page written into the first VMX_STATE_BYTES of `dst`, which the caller has zeroed. */
export function encodeVmxStateInto(dst: Uint8Array, v: Vmcs12, absent: ReadonlySet<number> = new Set()): void {
  const list = vmcs12FieldList(v, absent);
  if ((list.length + 1) * 16 > VMX_STATE_BYTES) throw new Error(`bochs-vmx: ${list.length} fields do not fit a ${VMX_STATE_BYTES}-byte state page`);
  if (dst.length < VMX_STATE_BYTES) throw new RangeError(`encodeVmxStateInto: ${dst.length} bytes, need ${VMX_STATE_BYTES}`);
  const dv = new DataView(dst.buffer, dst.byteOffset, VMX_STATE_BYTES);
  list.forEach(([enc, x], k) => {
    dv.setUint32(k * 16, enc, true);
    dv.setBigUint64(k * 16 + 8, x, true);
  });
  dv.setUint32(list.length * 16, LIST_END, true);
}
