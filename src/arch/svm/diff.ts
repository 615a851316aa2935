// Field-by-field VMCB comparison, walking layout.ts so every field of APM vol. 2 Appendix B is
// covered. Values are compared as they would be encoded (truncated to the field's width), so a
// diff lists exactly the fields whose bytes in the page would differ.

import type { Vmcb } from './vmcb.ts';
import { VMCB_CONTROL_FIELDS, VMCB_SAVE_FIELDS, VMCB_SEG_FIELDS, type VmcbArea } from './layout.ts';
import { tokenNote } from '../notes.ts';
import {
  VMCB_ENUM_FIELDS, describeSegAttrib, describeVmcbField, fieldHex, insnBytesHex, describeInterceptWord,
} from './dump.ts';

export interface VmcbFieldDiff {
  /** 'control.int_ctl', 'save.cs.attrib', 'control.intercepts[3]'. */
  path: string;
  /** Hex, zero-padded to the field width (insn_bytes: space-separated bytes). */
  ref: string;
  value: string;
  /** Decoded change: '+AVIC_ENABLE -V_INTR_MASKING', or 'VMRUN -> ERR' for single-name fields. */
  note?: string;
}


function push(out: VmcbFieldDiff[], path: string, ref: string, value: string, note?: string): void {
  out.push(note === undefined ? { path, ref, value } : { path, ref, value, note });
}

function scalar(out: VmcbFieldDiff[], area: VmcbArea, name: string, width: number, a: number | bigint, b: number | bigint): void {
  if (a === b) return;
  const ha = fieldHex(a, width);
  const hb = fieldHex(b, width);
  if (ha === hb) return;
  const path = `${area}.${name}`;
  const da = describeVmcbField(area, name, a);
  const db = describeVmcbField(area, name, b);
  const note = VMCB_ENUM_FIELDS.has(path) ? (da === db ? undefined : `${da} -> ${db}`) : tokenNote(da, db);
  push(out, path, ha, hb, note);
}

/** Every field of `v` that differs from `ref`, in VMCB offset order. */
export function diffVmcb(ref: Vmcb, v: Vmcb): VmcbFieldDiff[] {
  const out: VmcbFieldDiff[] = [];
  for (const f of VMCB_CONTROL_FIELDS) {
    if (f.name === 'intercepts') {
      for (let i = 0; i < f.count; i++) {
        const a = ref.control.intercepts[i] ?? 0;
        const b = v.control.intercepts[i] ?? 0;
        const ha = fieldHex(a, 4);
        const hb = fieldHex(b, 4);
        if (ha === hb) continue;
        const note = tokenNote(describeInterceptWord(a, i).join(' '), describeInterceptWord(b, i).join(' '));
        push(out, `control.intercepts[${i}]`, ha, hb, note);
      }
    } else if (f.name === 'insn_bytes') {
      const ha = insnBytesHex(ref.control.insn_bytes);
      const hb = insnBytesHex(v.control.insn_bytes);
      if (ha !== hb) push(out, 'control.insn_bytes', ha, hb);
    } else {
      scalar(out, 'control', f.name, f.width, ref.control[f.name], v.control[f.name]);
    }
  }
  for (const f of VMCB_SAVE_FIELDS) {
    if (f.kind === 'seg') {
      const sa = ref.save[f.name];
      const sb = v.save[f.name];
      for (const sf of VMCB_SEG_FIELDS) {
        const ha = fieldHex(sa[sf.name], sf.width);
        const hb = fieldHex(sb[sf.name], sf.width);
        if (ha === hb) continue;
        const note = sf.name === 'attrib' ? tokenNote(describeSegAttrib(sa.attrib), describeSegAttrib(sb.attrib)) : undefined;
        push(out, `save.${f.name}.${sf.name}`, ha, hb, note);
      }
    } else {
      scalar(out, 'save', f.name, f.width, ref.save[f.name], v.save[f.name]);
    }
  }
  return out;
}

/** One line per differing field: `path  ref -> value  (note)`; 'no differences' when empty. */
export function formatVmcbDiff(diffs: readonly VmcbFieldDiff[]): string {
  if (diffs.length === 0) return 'no differences';
  const w = Math.max(...diffs.map((d) => d.path.length));
  return diffs
    .map((d) => `${d.path.padEnd(w)}  ${d.ref} -> ${d.value}${d.note ? `  (${d.note})` : ''}`)
    .join('\n');
}
