// The first instructions of L2 (issue #3 scope; full instruction streams arrive with issue #5).
import fc from 'fast-check';
import type { L2Insn } from '../engine/svm/scenario.ts';

// 'sti' leaves an interrupt shadow over the next instruction, which then exits with int_state = 1.
const OPS: L2Insn['op'][] = ['vmmcall', 'hlt', 'cpuid', 'nop', 'ud2', 'int3', 'clgi', 'stgi', 'vmrun', 'emulated-pf', 'intr', 'sti'];

/** 0–3 instructions; the empty program means "L2's first instruction is VMMCALL". */
export function l2insns(): fc.Arbitrary<L2Insn[]> {
  return fc.array(fc.constantFrom(...OPS).map((op) => ({ op }) as L2Insn, (v) => (v as L2Insn).op), { maxLength: 3 });
}
