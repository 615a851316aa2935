// Human-readable VMCB, after KVM's dump_vmcb (arch/x86/kvm/svm/svm.c): a "VMCB Control Area:"
// and a "VMCB State Save Area:" section, column-aligned `name: value` lines in fixed-width hex,
// the segment table in KVM's `%-5s s: %04x a: %04x l: %08x b: %016llx` form, and after a value
// the names of its set bits in brackets. Field order and widths come from layout.ts.
//
// Note, unlike KVM every field is printed in hex (KVM prints asid/tlb_ctl/pause filter in
// decimal), one field per line, labels are our field names (KVM: exit_info1, cr_read, ...), and
// the label column is 22 wide rather than 20 so the longest label still lines up.

import type { Vmcb } from './vmcb.ts';
import {
  CR0_BIT_NAMES, CR4_BIT_NAMES, EFER_BIT_NAMES, EVTINJ, EVTINJ_TYPE_NAMES, INT_CTL_BIT_NAMES,
  MISC_CTL2_BIT_NAMES, MISC_CTL_BIT_NAMES, TLB_CONTROL_NAMES, interceptName,
} from './defs.ts';
import { svmExitName } from './exit_codes.ts';
import { VMCB_CONTROL_FIELDS, VMCB_SAVE_FIELDS, type VmcbArea } from './layout.ts';

/** int_state (VMCB 0x068), APM 15.21.5 / KVM SVM_INTERRUPT_SHADOW_MASK, SVM_GUEST_INTERRUPT_MASK. */
const INT_STATE_BIT_NAMES: Record<number, string> = { 0: 'INTERRUPT_SHADOW', 1: 'GUEST_INTERRUPT_MASK' };
/** erap_ctl (VMCB 0x05D), ERAPS: bit0 ALLOW_LARGER_RAP, bit1 CLEAR_RAP (spec §1.1). */
const ERAP_CTL_BIT_NAMES: Record<number, string> = { 0: 'ALLOW_LARGER_RAP', 1: 'CLEAR_RAP' };
/** VMCB clean bits (VMCB 0x0C0), APM 15.15.3 / KVM enum VMCB_INTERCEPTS..VMCB_SW (spec §1.6). */
const CLEAN_BIT_NAMES: Record<number, string> = {
  0: 'INTERCEPTS', 1: 'PERM_MAP', 2: 'ASID', 3: 'INTR', 4: 'NPT', 5: 'CR', 6: 'DR', 7: 'DT', 8: 'SEG',
  9: 'CR2', 10: 'LBR', 11: 'AVIC', 12: 'CET', 31: 'SW',
};
/** allowed_sev_features (VMCB 0x138): bit 63 VALID (spec §1.1). */
const ALLOWED_SEV_FEATURES_BIT_NAMES: Record<number, string> = { 63: 'VALID' };
/** RFLAGS single bits (APM 3.1.6); IOPL (13:12) is printed as a number. */
const RFLAGS_BIT_NAMES: Record<number, string> = {
  0: 'CF', 1: 'FIXED1', 2: 'PF', 4: 'AF', 6: 'ZF', 7: 'SF', 8: 'TF', 9: 'IF', 10: 'DF', 11: 'OF',
  14: 'NT', 16: 'RF', 17: 'VM', 18: 'AC', 19: 'VIF', 20: 'VIP', 21: 'ID',
};

// ---------------------------------------------------------------------------------------------
// small decoders

/** Zero-padded hex of a field value, truncated to `width` bytes (2 digits per byte). */
export function fieldHex(value: number | bigint, width: number): string {
  const b = typeof value === 'bigint' ? value : Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
  return BigInt.asUintN(width * 8, b).toString(16).padStart(width * 2, '0');
}

/** Names of the set bits of `v` in bit order, space separated; a bit without a name is `bitN`. */
export function describeBits64(v: bigint, names: Record<number, string>): string {
  const out: string[] = [];
  let x = BigInt.asUintN(64, v);
  for (let bit = 0; x !== 0n; bit++, x >>= 1n) {
    if (x & 1n) out.push(names[bit] ?? `bit${bit}`);
  }
  return out.join(' ');
}

function describeBits32(v: number, names: Record<number, string>): string {
  return describeBits64(BigInt(v >>> 0), names);
}

/**
 * int_ctl (VMCB 0x060, APM 15.21 / spec §1.2): named bits in bit order, with V_TPR (3:0) and
 * V_INTR_PRIO (19:16) as numbers when nonzero; undefined bits as `bitN`.
 */
export function describeIntCtl(v: number): string {
  const x = v >>> 0;
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (bit === 0 && (x & 0xf) !== 0) out.push(`V_TPR=${x & 0xf}`);
    if (bit === 16 && ((x >>> 16) & 0xf) !== 0) out.push(`V_INTR_PRIO=${(x >>> 16) & 0xf}`);
    if (bit < 4 || (bit >= 16 && bit < 20)) continue;
    if ((x >>> bit) & 1) out.push(INT_CTL_BIT_NAMES[bit] ?? `bit${bit}`);
  }
  return out.join(' ');
}

/**
 * EVENTINJ / EXITINTINFO (APM 15.20, spec §1.4): `V EXEPT vec=14 EV`, plus `RSVD=0x...` for any
 * of bits 30:12. Empty for 0. An undefined type prints as TYPEn.
 */
export function describeEventInj(v: number): string {
  const x = v >>> 0;
  if (x === 0) return '';
  const out: string[] = [];
  if (x & EVTINJ.VALID) out.push('V');
  const type = (x & EVTINJ.TYPE_MASK) >>> EVTINJ.TYPE_SHIFT;
  out.push(EVTINJ_TYPE_NAMES[type] ?? `TYPE${type}`);
  out.push(`vec=${x & EVTINJ.VEC_MASK}`);
  if (x & EVTINJ.VALID_ERR) out.push('EV');
  const rsvd = (x & EVTINJ.RESERVED_BITS) >>> 0;
  if (rsvd) out.push(`RSVD=0x${rsvd.toString(16)}`);
  return out.join(' ');
}

/** Names of the set bits of intercepts[index] (bit index*32 + n, KVM enum INTERCEPT_*). */
export function describeInterceptWord(word: number, index: number): string[] {
  const out: string[] = [];
  const x = word >>> 0;
  for (let bit = 0; bit < 32; bit++) if ((x >>> bit) & 1) out.push(interceptName(index * 32 + bit));
  return out;
}

/** Names of every set intercept bit (bit n = words[n >> 5] bit n & 31, KVM enum INTERCEPT_*), in bit order. */
export function describeIntercepts(words: readonly number[]): string[] {
  const out: string[] = [];
  words.forEach((w, i) => out.push(...describeInterceptWord(w, i)));
  return out;
}

/** Segment attrib in the VMCB's packed form (APM 15.5.1): `type=b S DPL=0 P L G`. */
export function describeSegAttrib(attrib: number): string {
  const a = attrib & 0xffff;
  if (a === 0) return '';
  const out = [`type=${(a & 0xf).toString(16)}`];
  if (a & 0x10) out.push('S');
  out.push(`DPL=${(a >>> 5) & 3}`);
  if (a & 0x80) out.push('P');
  if (a & 0x100) out.push('AVL');
  if (a & 0x200) out.push('L');
  if (a & 0x400) out.push('DB');
  if (a & 0x800) out.push('G');
  if (a & 0xf000) out.push(`RSVD=0x${(a & 0xf000).toString(16)}`);
  return out.join(' ');
}

function describeRflags(v: bigint): string {
  const iopl = Number((BigInt.asUintN(64, v) >> 12n) & 3n);
  const bits = describeBits64(v & ~0x3000n, RFLAGS_BIT_NAMES);
  return iopl ? `${bits} IOPL=${iopl}`.trim() : bits;
}

type Describer = (v: number | bigint) => string;
const big = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(v >>> 0));
const num = (v: number | bigint): number => Number(BigInt.asUintN(32, big(v)));

/** Fields whose decoding is a single name (compared as `old -> new` by diff.ts). */
export const VMCB_ENUM_FIELDS: ReadonlySet<string> = new Set(['control.tlb_ctl', 'control.exit_code']);

const DESCRIBERS: Record<string, Describer> = {
  'control.tlb_ctl': (v) => TLB_CONTROL_NAMES[num(v)] ?? 'UNDEFINED',
  'control.erap_ctl': (v) => describeBits32(num(v), ERAP_CTL_BIT_NAMES),
  'control.int_ctl': (v) => describeIntCtl(num(v)),
  'control.int_state': (v) => describeBits32(num(v), INT_STATE_BIT_NAMES),
  'control.exit_code': (v) => svmExitName(BigInt.asUintN(64, big(v))),
  'control.exit_int_info': (v) => describeEventInj(num(v)),
  'control.misc_ctl': (v) => describeBits64(big(v), MISC_CTL_BIT_NAMES),
  'control.event_inj': (v) => describeEventInj(num(v)),
  'control.misc_ctl2': (v) => describeBits64(big(v), MISC_CTL2_BIT_NAMES),
  'control.clean': (v) => describeBits32(num(v), CLEAN_BIT_NAMES),
  'control.allowed_sev_features': (v) => describeBits64(big(v), ALLOWED_SEV_FEATURES_BIT_NAMES),
  'save.efer': (v) => describeBits64(big(v), EFER_BIT_NAMES),
  'save.cr0': (v) => describeBits64(big(v), CR0_BIT_NAMES),
  'save.cr4': (v) => describeBits64(big(v), CR4_BIT_NAMES),
  'save.rflags': (v) => describeRflags(big(v)),
};

/** Decoded text of one scalar field (`''` when the field has no decoder or nothing to say). */
export function describeVmcbField(area: VmcbArea, name: string, value: number | bigint): string {
  const d = DESCRIBERS[`${area}.${name}`];
  return d ? d(value) : '';
}

// ---------------------------------------------------------------------------------------------
// dump_vmcb

/** KVM uses %-20s; 22 keeps the longest label ("allowed_sev_features:") aligned. */
const LABEL_WIDTH = 22;

function line(label: string, value: string, desc = ''): string {
  const l = `${label}:`;
  return `${l.length < LABEL_WIDTH ? l.padEnd(LABEL_WIDTH) : `${l} `}${value}${desc ? ` [${desc}]` : ''}`;
}

/** Every field of the VMCB, KVM dump_vmcb style. Lines joined with '\n', no trailing newline. */
export function dumpVmcb(v: Vmcb, opts: { title?: string } = {}): string {
  const out: string[] = [];
  if (opts.title !== undefined) out.push(opts.title);
  out.push('VMCB Control Area:');
  for (const f of VMCB_CONTROL_FIELDS) {
    if (f.name === 'intercepts') {
      for (let i = 0; i < f.count; i++) {
        const w = v.control.intercepts[i] ?? 0;
        out.push(line(`intercepts[${i}]`, fieldHex(w, 4), describeInterceptWord(w, i).join(' ')));
      }
    } else if (f.name === 'insn_bytes') {
      out.push(line(f.name, insnBytesHex(v.control.insn_bytes)));
    } else {
      const x = v.control[f.name];
      out.push(line(f.name, fieldHex(x, f.width), describeVmcbField('control', f.name, x)));
    }
  }
  out.push('VMCB State Save Area:');
  for (const f of VMCB_SAVE_FIELDS) {
    if (f.kind === 'seg') {
      const s = v.save[f.name];
      out.push(
        `${`${f.name}:`.padEnd(5)} s: ${fieldHex(s.selector, 2)} a: ${fieldHex(s.attrib, 2)} ` +
          `l: ${fieldHex(s.limit, 4)} b: ${fieldHex(s.base, 8)}`,
      );
    } else {
      const x = v.save[f.name];
      out.push(line(f.name, fieldHex(x, f.width), describeVmcbField('save', f.name, x)));
    }
  }
  return out.join('\n');
}

/** insn_bytes as space-separated byte pairs (`0f 01 d8 00 ...`), always 15 of them. */
export function insnBytesHex(bytes: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < 15; i++) out.push(fieldHex(bytes[i] ?? 0, 1));
  return out.join(' ');
}
