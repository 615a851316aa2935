// Leaf-level diff between two JSON-able values (scenarios, cases), with path helpers and a renderer.
// A path is a list of segments (object key or array index) and prints as
// `scenario.vmcb12.control.intercepts[4]` or `l1.memory.0x400000`; keys that are not plain names
// print quoted (`a["odd key"]`). A leaf is anything that is not a plain object or array, so a
// subtree that changes type (`race: null -> {…}`) is one difference. Shrink logs, replay and
// revertToBase all speak these paths.

import { diffVmcb } from '../arch/svm/diff.ts';
import type { Vmcb } from '../arch/svm/vmcb.ts';
import { diffVmcs12 } from '../arch/vmx/diff.ts';
import { vmcs12Namer } from '../arch/vmx/namer.ts';
import type { Vmcs12 } from '../arch/vmx/vmcs12.ts';

export type PathSeg = string | number;
export type Path = readonly PathSeg[];

export interface FieldDiff {
  path: PathSeg[];
  /** changed: both sides have the path; added: only `new` has it; removed: only `old` has it. */
  kind: 'changed' | 'added' | 'removed';
  /** undefined when added. */
  old: unknown;
  /** undefined when removed. */
  new: unknown;
  /**
   * Decoded change for VMCB fields (from diffVmcb): '+AVIC_ENABLE -V_INTR_MASKING', 'VMRUN -> ERR';
   * and for vmcs12 fields (from diffVmcs12 with vmcs12Namer): '+ENABLE_VPID', 'EXTERNAL_INTERRUPT -> ...'.
   */
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// paths

const PLAIN_KEY = /^(?:[A-Za-z_$][\w$]*|0x[0-9a-fA-F]+)$/;

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Inverse of formatPath: 'a.b[3]["x y"].0x1000' → ['a', 'b', 3, 'x y', '0x1000']. */
export function parsePath(text: string): PathSeg[] {
  const out: PathSeg[] = [];
  let i = 0;
  const bad = (): never => {
    throw new SyntaxError(`fieldDiff: bad path ${JSON.stringify(text)} at offset ${i}`);
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '[') {
      const close = text[i + 1] === '"' ? findStringEnd(text, i + 1) + 1 : text.indexOf(']', i);
      if (close < 0 || text[close] !== ']') bad();
      const inner = text.slice(i + 1, close);
      if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (inner.startsWith('"')) out.push(JSON.parse(inner) as string);
      else bad();
      i = close + 1;
    } else {
      if (ch === '.') {
        if (out.length === 0) bad();
        i++;
      } else if (out.length !== 0) bad();
      let j = i;
      while (j < text.length && text[j] !== '.' && text[j] !== '[') j++;
      if (j === i) bad();
      out.push(text.slice(i, j));
      i = j;
    }
  }
  return out;
}

function findStringEnd(text: string, open: number): number {
  for (let j = open + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j;
  }
  return -1;
}

function toSegs(path: Path | string): Path {
  return typeof path === 'string' ? parsePath(path) : path;
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return v !== null && typeof v === 'object';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return isContainer(v) && !Array.isArray(v);
}

function has(container: unknown, seg: PathSeg): boolean {
  if (Array.isArray(container)) return typeof seg === 'number' && seg < container.length;
  return isPlainObject(container) && Object.prototype.hasOwnProperty.call(container, seg) && container[seg] !== undefined;
}

/** The value at `path`, or undefined when any step is missing. */
export function getPath(root: unknown, path: Path | string): unknown {
  let cur = root;
  for (const seg of toSegs(path)) {
    if (!has(cur, seg)) return undefined;
    cur = (cur as Record<PathSeg, unknown>)[seg];
  }
  return cur;
}

/** Set the value at `path` in place, creating missing objects/arrays on the way. */
export function setPath(root: unknown, path: Path | string, value: unknown): void {
  const segs = toSegs(path);
  if (segs.length === 0) throw new RangeError('fieldDiff: setPath needs a non-empty path');
  let cur = root as Record<PathSeg, unknown>;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i];
    if (!isContainer(cur[seg])) cur[seg] = typeof segs[i + 1] === 'number' ? [] : {};
    cur = cur[seg] as Record<PathSeg, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
}

/** Remove the key (objects) or element (arrays: spliced out, later elements move down). */
export function deletePath(root: unknown, path: Path | string): void {
  const segs = toSegs(path);
  if (segs.length === 0) throw new RangeError('fieldDiff: deletePath needs a non-empty path');
  const parent = getPath(root, segs.slice(0, -1));
  const last = segs[segs.length - 1];
  if (Array.isArray(parent)) {
    if (typeof last === 'number' && last < parent.length) parent.splice(last, 1);
  } else if (isPlainObject(parent)) {
    delete parent[last];
  }
}

// ---------------------------------------------------------------------------------------------
// diff

function sameLeaf(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

function walk(a: unknown, b: unknown, path: PathSeg[], out: FieldDiff[]): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) walk(a[i], b[i], [...path, i], out);
    for (let i = n; i < a.length; i++) out.push({ path: [...path, i], kind: 'removed', old: a[i], new: undefined });
    for (let i = n; i < b.length; i++) out.push({ path: [...path, i], kind: 'added', old: undefined, new: b[i] });
    return;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of Object.keys(a)) {
      if (a[k] === undefined) continue;
      if (has(b, k)) walk(a[k], b[k], [...path, k], out);
      else out.push({ path: [...path, k], kind: 'removed', old: a[k], new: undefined });
    }
    for (const k of Object.keys(b)) {
      if (b[k] !== undefined && !has(a, k)) out.push({ path: [...path, k], kind: 'added', old: undefined, new: b[k] });
    }
    return;
  }
  if (!sameLeaf(a, b)) out.push({ path, kind: 'changed', old: a, new: b });
}

/** Every leaf where `next` differs from `prev`, in `prev`'s key order (then keys only `next` has). */
export function diffValues(prev: unknown, next: unknown, prefix: Path = []): FieldDiff[] {
  const out: FieldDiff[] = [];
  walk(prev, next, [...prefix], out);
  return out;
}

function looksLikeVmcb(v: unknown): v is Vmcb {
  if (!isPlainObject(v) || !isPlainObject(v.control) || !isPlainObject(v.save)) return false;
  return Array.isArray(v.control.intercepts) && isPlainObject(v.save.cs);
}

/**
 * Attach diffVmcb's decoded notes to differences inside VMCB-shaped subtrees present on both
 * sides (`scenario.vmcb12`, `smm.vmrun_vmcb12`, ...). Returns the same array.
 */
export function annotateVmcbNotes(diffs: FieldDiff[], prev: unknown, next: unknown): FieldDiff[] {
  const notesByRoot = new Map<string, Map<string, string>>();
  for (const d of diffs) {
    for (let cut = d.path.length - 1; cut >= 0; cut--) {
      const rootPath = d.path.slice(0, cut);
      const a = getPath(prev, rootPath);
      const b = getPath(next, rootPath);
      if (!looksLikeVmcb(a) || !looksLikeVmcb(b)) continue;
      const key = formatPath(rootPath);
      let notes = notesByRoot.get(key);
      if (!notes) {
        notes = new Map();
        for (const v of diffVmcb(a, b)) if (v.note !== undefined) notes.set(v.path, v.note);
        notesByRoot.set(key, notes);
      }
      const note = notes.get(formatPath(d.path.slice(cut)));
      if (note !== undefined) d.note = note;
      break;
    }
  }
  return diffs;
}

function looksLikeVmcs12(v: unknown): v is Vmcs12 {
  return isPlainObject(v) && 'virtual_processor_id' in v && 'guest_rip' in v && 'host_rip' in v && !isContainer(v.guest_rip);
}

/** Fields whose decoding is one name: noted `old -> new` rather than as set-bit changes. */
const VMCS12_ENUM_FIELDS: ReadonlySet<string> = new Set(['vm_exit_reason', 'vm_instruction_error', 'ept_pointer']);

/** As annotateVmcbNotes, for vmcs12-shaped subtrees (`scenario.vmcs12`): notes from diffVmcs12. */
export function annotateVmcs12Notes(diffs: FieldDiff[], prev: unknown, next: unknown): FieldDiff[] {
  const notesByRoot = new Map<string, Map<string, string>>();
  for (const d of diffs) {
    if (d.note !== undefined || d.path.length === 0) continue;
    const rootPath = d.path.slice(0, -1);
    const a = getPath(prev, rootPath);
    const b = getPath(next, rootPath);
    if (!looksLikeVmcs12(a) || !looksLikeVmcs12(b)) continue;
    const key = formatPath(rootPath);
    let notes = notesByRoot.get(key);
    if (!notes) {
      notes = new Map();
      for (const v of diffVmcs12(a, b, { names: vmcs12Namer, enumFields: VMCS12_ENUM_FIELDS })) if (v.note !== undefined) notes.set(v.field, v.note);
      notesByRoot.set(key, notes);
    }
    const note = notes.get(String(d.path[d.path.length - 1]));
    if (note !== undefined) d.note = note;
  }
  return diffs;
}

/** diffValues plus VMCB and vmcs12 notes: what shrink logs and replay print. */
export function fieldDiff(prev: unknown, next: unknown, prefix: Path = []): FieldDiff[] {
  const diffs = diffValues(prev, next, prefix);
  const wrap = (v: unknown): unknown => {
    let out = v;
    for (let i = prefix.length - 1; i >= 0; i--) {
      const seg = prefix[i];
      out = typeof seg === 'number' ? Object.assign([], { [seg]: out }) : { [seg]: out };
    }
    return out;
  };
  const p = wrap(prev);
  const n = wrap(next);
  return annotateVmcs12Notes(annotateVmcbNotes(diffs, p, n), p, n);
}

// ---------------------------------------------------------------------------------------------
// rendering

/** Numbers under these names are bit fields or register images and print in hex. */
const HEX_NUMBER_KEY = /^(?:intercepts|insn_bytes|clean|selector|limit|attrib|cs_attrib|flags|value|exit_code|int_vector|int_state|ar|vm_exit_reason)$|(?:_ctl|_info|_inj|_inj_err|_info_err|_mask|_bits|_attrib|_flags|_control|_controls|_ar_bytes|_selector|_limit|_field|_code)$/;

function hexKey(path: Path): boolean {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg === 'string') return HEX_NUMBER_KEY.test(seg);
  }
  return false;
}

/** One value as it appears in a diff line: bigints always hex, register-like numbers hex. */
export function formatValue(v: unknown, path: Path = []): string {
  if (v === undefined) return '(absent)';
  if (typeof v === 'bigint') return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= 0 && hexKey(path) ? `0x${v.toString(16)}` : String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x, i) => formatValue(x, [...path, i])).join(', ')}]`;
  if (isPlainObject(v)) {
    const parts = Object.keys(v).filter((k) => v[k] !== undefined).map((k) => `${k}: ${formatValue(v[k], [...path, k])}`);
    return `{${parts.join(', ')}}`;
  }
  return String(v);
}

/** `path: old -> new  (note)`, one line per difference. */
export function renderFieldDiff(diffs: readonly FieldDiff[]): string[] {
  return diffs.map((d) => {
    const line = `${formatPath(d.path)}: ${formatValue(d.old, d.path)} -> ${formatValue(d.new, d.path)}`;
    return d.note === undefined ? line : `${line}  (${d.note})`;
  });
}
