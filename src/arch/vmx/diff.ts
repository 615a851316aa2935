// Field-by-field vmcs12 comparison, walking VMCS12_FIELDS (encoding order) so every field KVM's
// vmcs12 exposes is covered. Values are compared as stored (truncated to the field width), so a
// diff lists exactly the fields a VMREAD would see differ.

import { VMCS12_FIELDS, type Vmcs12FieldName } from './fields.ts';
import { describeVmcs12Field, vmcs12FieldHex, type Vmcs12Namer } from './dump.ts';
import { vmcs12FieldValue, type Vmcs12 } from './vmcs12.ts';
import { tokenNote } from '../notes.ts';

export interface Vmcs12FieldDiff {
  /** KVM member name, e.g. 'guest_rip'. */
  field: Vmcs12FieldName;
  encoding: number;
  /** Hex, zero-padded to the field width (4, 8 or 16 digits). */
  ref: string;
  value: string;
  /** Decoded change from the `names` hook: '+A -B', or 'A -> B' for an enumFields member. */
  note?: string;
}

export interface DiffVmcs12Options {
  /** Decoding hook, as for dumpVmcs12 (set-bit names come from controls.ts). */
  names?: Vmcs12Namer;
  /** Fields whose decoding is one name (exit reason, activity state): noted as `old -> new`. */
  enumFields?: ReadonlySet<string>;
}


/** Every field of `v` that differs from `ref`, in encoding order. Empty for equal vmcs12s. */
export function diffVmcs12(ref: Vmcs12, v: Vmcs12, opts: DiffVmcs12Options = {}): Vmcs12FieldDiff[] {
  const out: Vmcs12FieldDiff[] = [];
  for (const f of VMCS12_FIELDS) {
    const a = vmcs12FieldValue(ref, f);
    const b = vmcs12FieldValue(v, f);
    if (a === b) continue;
    const d: Vmcs12FieldDiff = { field: f.name, encoding: f.encoding, ref: vmcs12FieldHex(f, a), value: vmcs12FieldHex(f, b) };
    if (opts.names !== undefined) {
      const da = describeVmcs12Field(ref, f, opts.names);
      const db = describeVmcs12Field(v, f, opts.names);
      const note = opts.enumFields?.has(f.name) ? (da === db ? undefined : `${da} -> ${db}`) : tokenNote(da, db);
      if (note !== undefined) d.note = note;
    }
    out.push(d);
  }
  return out;
}

/** One line per differing field: `field  ref -> value  (note)`; 'no differences' when empty. */
export function formatVmcs12Diff(diffs: readonly Vmcs12FieldDiff[]): string {
  if (diffs.length === 0) return 'no differences';
  const w = Math.max(...diffs.map((d) => d.field.length));
  return diffs
    .map((d) => `${d.field.padEnd(w)}  ${d.ref} -> ${d.value}${d.note ? `  (${d.note})` : ''}`)
    .join('\n');
}
