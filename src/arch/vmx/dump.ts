// Human-readable vmcs12, after KVM's dump_vmcs (arch/x86/kvm/vmx/vmx.c): "*** Control State ***",
// "*** Guest State ***", "*** Host State ***" sections, plus "*** Exit Information ***" for the
// type-1 fields. One field per line, `<encoding> <KVM member>: <hex of the field width>`, in
// encoding order within a section, and after a value the decoding a `names` hook supplies.
//
// Note, unlike KVM every field is printed (KVM picks fields and packs several per line, e.g.
// `CR0: actual=... shadow=... gh_mask=...`), KVM prints Guest/Host before Control and the exit
// information inside "Control State", and labels are KVM's member names, not its abbreviations.
// TODO: set-bit names for control fields come from controls.ts; pass them through `names`.

import { encodingHex, type VmcsFieldGroup } from './encoding.ts';
import { VMCS12_FIELDS, type Vmcs12Field } from './fields.ts';
import { fieldStoredValue, storageBits, toU64, vmcs12FieldValue, type Vmcs12 } from './vmcs12.ts';

/**
 * Decoding hook: the text for a field's value (set-bit names, an exit-reason name, ...), or
 * undefined for none. `value` is the stored value: bigint for 64-bit/natural-width, else number.
 */
export type Vmcs12Namer = (field: Vmcs12Field, value: bigint | number) => string | undefined;

export interface DumpVmcs12Options {
  /** A first line, e.g. 'vmcs12 after VMLAUNCH'. */
  title?: string;
  names?: Vmcs12Namer;
}

/** Sections in print order, with KVM's dump_vmcs headings. */
export const VMCS12_DUMP_SECTIONS: readonly { group: VmcsFieldGroup; title: string }[] = [
  { group: 'control', title: '*** Control State ***' },
  { group: 'guest', title: '*** Guest State ***' },
  { group: 'host', title: '*** Host State ***' },
  { group: 'exit-info', title: '*** Exit Information ***' },
];

/** Zero-padded hex of the field's stored value: 4, 8 or 16 digits (natural-width is 64-bit). */
export function vmcs12FieldHex(f: Vmcs12Field, value: bigint | number): string {
  const bits = storageBits(f);
  return BigInt.asUintN(bits, toU64(value)).toString(16).padStart(bits / 4, '0');
}

/** The namer's text for the stored value of `f` in `v` ('' without a namer or without text). */
export function describeVmcs12Field(v: Vmcs12, f: Vmcs12Field, names?: Vmcs12Namer): string {
  if (names === undefined) return '';
  return names(f, fieldStoredValue(f, vmcs12FieldValue(v, f))) ?? '';
}

/** Longest member name + ':' + one space. */
const LABEL_WIDTH = Math.max(...VMCS12_FIELDS.map((f) => f.name.length)) + 2;

/** One dump line: `0x681e guest_rip:  000000000000fff0 [desc]`. */
export function vmcs12DumpLine(f: Vmcs12Field, hex: string, desc = ''): string {
  return `${encodingHex(f.encoding)} ${`${f.name}:`.padEnd(LABEL_WIDTH)}${hex}${desc ? ` [${desc}]` : ''}`;
}

/** Every field of vmcs12, by section. Lines joined with '\n', no trailing newline. Never throws on odd values. */
export function dumpVmcs12(v: Vmcs12, opts: DumpVmcs12Options = {}): string {
  const out: string[] = [];
  if (opts.title !== undefined) out.push(opts.title);
  for (const s of VMCS12_DUMP_SECTIONS) {
    out.push(s.title);
    for (const f of VMCS12_FIELDS) {
      if (f.group !== s.group) continue;
      const x = vmcs12FieldValue(v, f);
      out.push(vmcs12DumpLine(f, vmcs12FieldHex(f, x), describeVmcs12Field(v, f, opts.names)));
    }
  }
  return out.join('\n');
}
