// Shape checks for the parts of a nested-paging scenario that issue #5's streams added: the L2
// program with L1's controls, and L0's cached shadow-EPT roots. A stored file that fails them is
// rejected with a one-line message before the engine sees it.

import type { L2OpName } from '../engine/emulate/l2_insn.ts';
import { bigintFields, booleanFields, integerFields, isObject, type Json } from './jsonShape.ts';

/** The fields each instruction needs besides `op`, by kind. */
const OP_FIELDS: Record<L2OpName, { ints?: string[]; bigints?: string[]; bools?: string[] }> = {
  mov: { ints: ['size'], bigints: ['gva'], bools: ['store'] },
  push: {}, pop: {}, cpuid: {}, hlt: {}, hypercall: {}, 'mov-cr3': {},
  in: { ints: ['port', 'size'] },
  out: { ints: ['port', 'size'] },
  ins: { ints: ['port', 'size', 'rep'], bigints: ['gva'], bools: ['df'] },
  outs: { ints: ['port', 'size', 'rep'], bigints: ['gva'], bools: ['df'] },
  invlpg: { bigints: ['gva'] },
  rdmsr: { ints: ['msr'] },
  wrmsr: { ints: ['msr'] },
};

function opProblem(op: unknown, at: string): string | null {
  if (!isObject(op) || typeof op.op !== 'string' || !(op.op in OP_FIELDS)) return `${at}.op must be one of ${Object.keys(OP_FIELDS).join(', ')}`;
  const f = OP_FIELDS[op.op as L2OpName];
  const p = integerFields(op, at, f.ints ?? []) ?? bigintFields(op, at, f.bigints ?? []) ?? booleanFields(op, at, f.bools ?? []);
  if (p !== null) return p;
  if ('size' in op && ![1, 2, 4, 8].includes(op.size as number)) return `${at}.size is ${JSON.stringify(op.size)}, expected 1, 2, 4 or 8`;
  return null;
}

function programProblem(p: unknown, at: string): string | null {
  if (!isObject(p)) return `${at} is not an object`;
  if (!Array.isArray(p.ops)) return `${at}.ops is not an array`;
  for (let i = 0; i < p.ops.length; i++) {
    const q = opProblem(p.ops[i], `${at}.ops[${i}]`);
    if (q !== null) return q;
  }
  const bp = bigintFields(p, at, ['rip', 'rsp']);
  if (bp !== null) return bp;
  const l1 = p.l1;
  if (!isObject(l1)) return `${at}.l1 is missing`;
  if (l1.io !== 'bitmap' && l1.io !== 'all' && l1.io !== 'none') return `${at}.l1.io is ${JSON.stringify(l1.io)}, expected "bitmap", "all" or "none"`;
  if (l1.msr !== 'bitmap' && l1.msr !== 'all' && l1.msr !== 'none') return `${at}.l1.msr is ${JSON.stringify(l1.msr)}, expected "bitmap", "all" or "none"`;
  return bigintFields(l1, `${at}.l1`, ['iopm_base', 'msrpm_base'])
    ?? booleanFields(l1, `${at}.l1`, ['cpuid', 'hlt', 'hypercall', 'invlpg', 'cr3_load'])
    ?? integerFields(l1, `${at}.l1`, ['exception_bitmap', 'pfec_mask', 'pfec_match']);
}

function prevRootsProblem(r: unknown, at: string): string | null {
  if (!Array.isArray(r)) return `${at} is not an array`;
  for (let i = 0; i < r.length; i++) {
    const e = r[i] as unknown;
    if (!isObject(e)) return `${at}[${i}] is not an object`;
    const p = bigintFields(e, `${at}[${i}]`, ['eptp']) ?? booleanFields(e, `${at}[${i}]`, ['valid']);
    if (p !== null) return p;
    if (!Array.isArray(e.mapped) || !e.mapped.every((g) => typeof g === 'bigint')) return `${at}[${i}].mapped is not an array of bigints`;
  }
  return null;
}

/** Problems in `program` / `prev_roots` of a nested-paging scenario, or null. Both are optional. */
export function streamProblem(s: Json, at: string): string | null {
  if (s.program !== undefined && s.program !== null) {
    const p = programProblem(s.program, `${at}.program`);
    if (p !== null) return p;
  }
  if (s.prev_roots !== undefined && s.prev_roots !== null) return prevRootsProblem(s.prev_roots, `${at}.prev_roots`);
  return null;
}
