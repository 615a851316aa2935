// The replay view of an L2 instruction stream: the program with every address named by the page it
// falls in, what L1 intercepts, a row per executed instruction (who completed it, what L0's emulator
// touched, the exception it raised) and the exit reflected to L1 with its fields decoded.

import { svmExitName } from '../arch/svm/exit_codes.ts';
import { exitReasonName } from '../arch/vmx/exit_reasons.ts';
import type { L1Controls, L2Op, L2Program } from '../engine/emulate/l2_insn.ts';
import type { L2Step } from '../engine/emulate/l2_program.ts';
import type { L1Exit } from '../engine/emulate/routing.ts';
import { readPhys8, type PhysMem } from '../engine/mmu/types.ts';

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;

/** Where a GVA falls in the program layout (src/arbitraries/l2program.ts). */
function where(gva: bigint): string {
  const page = gva & ~0xfffn;
  const name = page === 0x400000n ? 'data' : page === 0x401000n ? 'next' : page === 0x3ff000n ? 'mmio' : null;
  const crosses = (gva & 0xfffn) > 0xff8n;
  return `${hex(gva)}${name ? ` (${name} page${crosses ? ', may cross' : ''})` : ''}`;
}

export function describeOp(op: L2Op): string {
  switch (op.op) {
    case 'mov': return `MOV ${op.store ? 'store' : 'load'} ${op.size} byte(s) at ${where(op.gva)}`;
    case 'push': return 'PUSH';
    case 'pop': return 'POP';
    case 'in': case 'out': return `${op.op.toUpperCase()} port ${hex(op.port)} size ${op.size}`;
    case 'ins': case 'outs': return `${op.rep > 1 ? `REP(${op.rep}) ` : ''}${op.op.toUpperCase()} port ${hex(op.port)} size ${op.size} DF=${op.df ? 1 : 0} at ${where(op.gva)}`;
    case 'cpuid': return 'CPUID';
    case 'hlt': return 'HLT';
    case 'hypercall': return 'VMMCALL / VMCALL';
    case 'invlpg': return `INVLPG ${where(op.gva)}`;
    case 'mov-cr3': return 'MOV CR3 (reload)';
    case 'rdmsr': case 'wrmsr': return `${op.op.toUpperCase()} ${hex(op.msr)}`;
  }
}

/** The ports whose permission bit is set in L1's IOPM / I/O bitmaps (read back from L1 memory). */
function setPorts(flavour: 'svm' | 'vmx', l1: L1Controls, mem: PhysMem): number[] {
  const out: number[] = [];
  for (let port = 0; port <= 0xffff; port++) {
    const base = flavour === 'vmx' && port >= 0x8000 ? l1.iopm_base + 0x1000n : l1.iopm_base;
    const n = flavour === 'vmx' ? port & 0x7fff : port;
    const b = readPhys8(mem, base + BigInt(n >>> 3));
    if (b !== null && (b >> (n & 7)) & 1) out.push(port);
  }
  return out;
}

function interceptSummary(flavour: 'svm' | 'vmx', l1: L1Controls, mem: PhysMem): string {
  const on: string[] = [];
  const ports = l1.io === 'bitmap' ? setPorts(flavour, l1, mem) : [];
  on.push(l1.io === 'bitmap' ? `port I/O by ${flavour === 'svm' ? 'IOPM' : 'I/O bitmaps'} at ${hex(l1.iopm_base)}${ports.length ? ` (bits set: ${ports.map(hex).join(',')})` : ' (no bit set)'}`
    : l1.io === 'all' ? 'all port I/O (unconditional I/O exiting)' : 'no port I/O');
  on.push(l1.msr === 'bitmap' ? `MSRs by ${flavour === 'svm' ? 'MSRPM' : 'MSR bitmap'} at ${hex(l1.msrpm_base)}` : l1.msr === 'all' ? 'every RDMSR/WRMSR (no MSR bitmaps)' : 'no MSRs');
  if (flavour === 'svm' && l1.cpuid) on.push('CPUID');
  if (flavour === 'svm' && l1.hypercall) on.push('VMMCALL');
  if (flavour === 'vmx') on.push('CPUID and VMCALL (always)');
  if (l1.hlt) on.push('HLT');
  if (l1.invlpg) on.push('INVLPG');
  if (l1.cr3_load) on.push('CR3 load');
  const vecs = [...Array(32).keys()].filter((v) => (l1.exception_bitmap >>> v) & 1);
  if (vecs.length) on.push(`exceptions ${vecs.join(',')}`);
  if (flavour === 'vmx') on.push(`PFEC mask ${hex(l1.pfec_mask)} match ${hex(l1.pfec_match)}`);
  return on.join('; ') || 'nothing';
}

export function programSetupLines(flavour: 'svm' | 'vmx', prog: L2Program, mem: PhysMem): string[] {
  return [
    `L2 program: ${prog.ops.length} instruction(s) from RIP ${hex(prog.rip)}, RSP ${where(prog.rsp)}`,
    ...prog.ops.map((op, i) => `  ${i}: ${describeOp(op)}`),
    `L1 intercepts: ${interceptSummary(flavour, prog.l1, mem)}`,
  ];
}

export function stepLines(steps: readonly L2Step[]): string[] {
  if (!steps.length) return ['(no instruction ran)'];
  const rows = steps.map((s) => [String(s.i), s.op, hex(s.rip), s.by, s.emulated.length ? s.emulated.map(hex).join(',') : '-',
    s.exception ? `#${s.exception.vector} ec ${hex(s.exception.error_code)}` : '-', s.note]);
  const header = ['i', 'op', 'rip', 'completed by', 'emulator touched', 'exception', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function l1ExitLines(e: L1Exit): string[] {
  if (e.svm) return [`${e.what}: exit_code ${hex(e.svm.exit_code)} (${svmExitName(e.svm.exit_code)})`, `exit_info_1 ${hex(e.svm.exit_info_1)}`, `exit_info_2 ${hex(e.svm.exit_info_2)}`];
  if (e.vmx) {
    return [`${e.what}: reason ${e.vmx.reason} (${exitReasonName(e.vmx.reason)})`, `qualification ${hex(e.vmx.qual)}`,
      `interruption info ${hex(e.vmx.intr_info)}${e.vmx.intr_info ? ` (vector ${e.vmx.intr_info & 0xff}, error code ${hex(e.vmx.error_code)})` : ''}`,
      `guest-linear address ${hex(e.vmx.gla)}`];
  }
  return [e.what];
}
