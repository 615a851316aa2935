// The data block appended to a REPRO harness (format: harness/repro.inc): the guest memory the
// harness expects (for SVM its static image, a batch header for one state, the state's VMCB page)
// as segments, all-zero pages as zero-fill entries rather than bytes; the expected verdicts in
// binary for the image's comparison; the header text it prints first; and, optionally, what it
// prints instead of running on a CPU without the harness's feature.

import { encodeVmcb } from '../../arch/svm/codec.ts';
import { inputHeader, staticImage, type Segment } from '../image.ts';
import { statePage } from '../layout.ts';
import { definedFields, type SvmVerdict } from '../svm/verdict.ts';
import type { ReproExpectation } from './source.ts';

// harness/repro.inc
const REPRO_MAGIC = 0x525a464e;
const ZERO_FILL = 0xffffffff;
/** Data block +28 (harness/repro.inc REPRO_FLAG_EXPLAIN): print the header text and stop. */
export const REPRO_FLAG_EXPLAIN = 1;
/** Data block +28 (REPRO_FLAG_L1_NXE): L1 sets EFER.NXE before VMRUN. */
export const REPRO_FLAG_L1_NXE = 2;
const EXP = { EXIT: 0, HOSTEXC: 1, OTHER: 2 } as const;
const F = { INFO1: 1, INFO2: 2, INTINFO: 4 } as const;
const HEADER_SIZE = 32;
const SEG_SIZE = 16;
const EXP_SIZE = 48;
const PAGE = 0x1000;

interface Run {
  gpa: number;
  /** null: zero-fill `length` bytes. */
  bytes: Uint8Array | null;
  length: number;
}

/** A segment as runs of pages: stored bytes, or zero-fill for all-zero pages (merged when adjacent). */
function runs(seg: Segment): Run[] {
  const out: Run[] = [];
  for (let off = 0; off < seg.bytes.length; off += PAGE) {
    const chunk = seg.bytes.subarray(off, Math.min(off + PAGE, seg.bytes.length));
    const zero = chunk.every((b) => b === 0);
    const last = out[out.length - 1];
    if (last && (last.bytes === null) === zero && last.gpa + last.length === seg.gpa + off) {
      if (!zero) {
        const merged = new Uint8Array(last.length + chunk.length);
        merged.set(last.bytes!);
        merged.set(chunk, last.length);
        last.bytes = merged;
      }
      last.length += chunk.length;
    } else out.push({ gpa: seg.gpa + off, bytes: zero ? null : chunk, length: chunk.length });
  }
  return out;
}

/** The memory the image sets up before the harness starts: the static image, one state. */
export function reproSegments(vmcbPage: Uint8Array): Segment[] {
  return [...staticImage(), inputHeader(1, 0), { gpa: statePage(0), bytes: vmcbPage }];
}

function expectedRecord(v: SvmVerdict): { kind: number; mask: number; code: bigint; info1: bigint; info2: bigint; intInfo: bigint } {
  const zero = { mask: 0, code: 0n, info1: 0n, info2: 0n, intInfo: 0n };
  switch (v.kind) {
    case 'invalid':
      return { ...zero, kind: EXP.EXIT, code: v.exit_code };
    case 'exit': {
      const defined = definedFields(v.exit_code);
      const mask = (defined.includes('exit_info_1') ? F.INFO1 : 0) | (defined.includes('exit_info_2') ? F.INFO2 : 0) | F.INTINFO;
      return { kind: EXP.EXIT, mask, code: v.exit_code, info1: v.exit_info_1, info2: v.exit_info_2, intInfo: v.exit_int_info };
    }
    case 'host-exception':
      return { ...zero, kind: EXP.HOSTEXC, code: BigInt(v.vector) };
    default:
      return { ...zero, kind: EXP.OTHER };
  }
}

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** One expected verdict as the harness compares it (48 bytes, harness/repro.inc); what kind, mask and a..d mean is the harness's. */
export interface ExpectedRecord {
  kind: number;
  mask: number;
  a: bigint;
  b: bigint;
  c: bigint;
  d: bigint;
}

export interface DataBlockParts {
  /** The memory the harness expects, copied in order at boot. */
  segments: readonly Segment[];
  expected: readonly { label: string; record: ExpectedRecord }[];
  /** Printed first, as is (lines end in "\n"). */
  header: string;
  /** Printed instead of running the state when this CPU lacks the harness's feature (repro.inc +24). */
  notRun?: string;
  /** Data block +28: REPRO_FLAG_* (0 when absent). */
  flags?: number;
}

export interface DataBlockInput {
  vmcb: Parameters<typeof encodeVmcb>[0];
  expected: readonly ReproExpectation[];
  /** Printed first, as is (lines end in "\n"). */
  header: string;
  /** Data block +28: REPRO_FLAG_* (0 when absent). */
  flags?: number;
  /** More memory, copied after the SVM image (so it may overwrite part of it). */
  extra?: readonly Segment[];
}

/** The SVM harness's bytes after its repro_data label. */
export function reproDataBlock(input: DataBlockInput): Uint8Array {
  return encodeDataBlock({
    segments: [...reproSegments(encodeVmcb(input.vmcb)), ...(input.extra ?? [])],
    expected: input.expected.map((e) => {
      const x = expectedRecord(e.verdict);
      return { label: e.label, record: { kind: x.kind, mask: x.mask, a: x.code, b: x.info1, c: x.info2, d: x.intInfo } };
    }),
    header: input.header,
    ...(input.flags === undefined ? {} : { flags: input.flags }),
  });
}

/** The bytes to append after a REPRO harness's repro_data label. */
export function encodeDataBlock(input: DataBlockParts): Uint8Array {
  const enc = new TextEncoder();
  const all = input.segments.flatMap(runs);
  const stored = all.filter((r) => r.bytes !== null);
  const segTable = HEADER_SIZE;
  const expTable = segTable + all.length * SEG_SIZE;
  const labels = input.expected.map((e) => enc.encode(`${e.label}\0`));
  const header = enc.encode(`${input.header}\0`);
  const notRun = input.notRun === undefined ? null : enc.encode(`${input.notRun}\0`);
  let off = expTable + input.expected.length * EXP_SIZE;
  const labelOff = labels.map((l) => {
    const at = off;
    off += l.length;
    return at;
  });
  const headerOff = off;
  off += header.length;
  const notRunOff = notRun === null ? 0 : off;
  off += notRun?.length ?? 0;
  off = (off + 15) & ~15;
  const dataOff = new Map<Run, number>();
  for (const r of stored) {
    dataOff.set(r, off);
    off += r.length;
  }
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, REPRO_MAGIC, true);
  dv.setUint32(4, all.length, true);
  dv.setUint32(8, segTable, true);
  dv.setUint32(12, input.expected.length, true);
  dv.setUint32(16, expTable, true);
  dv.setUint32(20, headerOff, true);
  dv.setUint32(24, notRunOff, true);
  dv.setUint32(28, input.flags ?? 0, true);
  all.forEach((r, i) => {
    const o = segTable + i * SEG_SIZE;
    dv.setUint32(o, r.gpa, true);
    dv.setUint32(o + 4, r.length, true);
    dv.setUint32(o + 8, r.bytes === null ? ZERO_FILL : dataOff.get(r)!, true);
  });
  input.expected.forEach((e, i) => {
    const o = expTable + i * EXP_SIZE;
    const x = e.record;
    dv.setUint32(o, x.kind >>> 0, true);
    dv.setUint32(o + 4, x.mask >>> 0, true);
    dv.setBigUint64(o + 8, u64(x.a), true);
    dv.setBigUint64(o + 16, u64(x.b), true);
    dv.setBigUint64(o + 24, u64(x.c), true);
    dv.setBigUint64(o + 32, u64(x.d), true);
    dv.setUint32(o + 40, labelOff[i], true);
    out.set(labels[i], labelOff[i]);
  });
  out.set(header, headerOff);
  if (notRun !== null) out.set(notRun, notRunOff);
  for (const r of stored) out.set(r.bytes!, dataOff.get(r)!);
  return out;
}
