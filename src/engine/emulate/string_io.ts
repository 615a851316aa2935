// INS / OUTS executed by L2 on a port L1 may or may not intercept. The CPU exits to L0 with an I/O
// exit (SVM IOIO 0x7b with its exit_info_1 encoding, APM §15.10.2; VMX basic reason 30 with its
// qualification, SDM Table 28-5). If L1 intercepts the port (IOPM bit / I/O-bitmap bit or
// unconditional I/O exiting) KVM reflects the exit to L1 and must not emulate anything for L2
// (CVE-2020-2732). Otherwise L0's emulator performs the string operation, walking ES:RDI (INS writes
// memory) or DS:RSI (OUTS reads it) once per iteration, DF deciding the direction; a fault in L1's
// nested TDP then has to be synthesized while vmcb02/vmcs02 still hold the I/O exit.

import type { SvmExitInfo, VmxExitInfo } from '../mmu/inject.ts';

export interface StringIo {
  kind: 'ins' | 'outs';
  port: number;
  /** Operand size in bytes. */
  size: 1 | 2 | 4;
  /** REP count (RCX); 1 without a REP prefix. */
  rep: number;
  /** EFLAGS.DF: the string address decrements. */
  df: boolean;
  /** L1's I/O permission map / I/O bitmap says exit for this port (or L1 uses unconditional I/O exiting). */
  l1_intercepts: boolean;
  /** Length of the instruction (next RIP for SVM's exit_info_2). */
  insn_len: number;
  rip: bigint;
}

/** Any I/O instruction's exit-relevant shape: IN/OUT (port in DX) or INS/OUTS. */
export interface IoInsn {
  kind: 'in' | 'out' | 'ins' | 'outs';
  port: number;
  size: 1 | 2 | 4;
  rep: number;
  insn_len: number;
  rip: bigint;
}

const isString = (io: IoInsn): boolean => io.kind === 'ins' || io.kind === 'outs';
const isIn = (io: IoInsn): boolean => io.kind === 'in' || io.kind === 'ins';

/** SVM IOIO exit_info_1 (APM Figure 15-2): TYPE (1 = IN), STR, REP, SZ8/16/32, port in 31:16; exit_info_2 = next RIP. */
export function svmIoioExitInfo(io: IoInsn): SvmExitInfo {
  const sz = io.size === 1 ? 1n << 4n : io.size === 2 ? 1n << 5n : 1n << 6n;
  const str = isString(io);
  const info1 = (BigInt(io.port & 0xffff) << 16n) | sz | (str ? 1n << 2n : 0n) | (str && io.rep > 1 ? 1n << 3n : 0n) | (isIn(io) ? 1n : 0n);
  return { exit_code: 0x7bn, exit_info_1: info1, exit_info_2: BigInt.asUintN(64, io.rip + BigInt(io.insn_len)) };
}

/** VMX I/O-instruction exit qualification (SDM Table 28-5): size-1, direction (1 = IN), string, REP, port (DX encoding). */
export function vmxIoExitInfo(io: IoInsn, gla: bigint): VmxExitInfo {
  const str = isString(io);
  const q = BigInt(io.size - 1) | (isIn(io) ? 1n << 3n : 0n) | (str ? 1n << 4n : 0n) | (str && io.rep > 1 ? 1n << 5n : 0n) | (BigInt(io.port & 0xffff) << 16n);
  return { reason: 30, qual: q, gpa: 0n, gla: str ? gla : 0n };
}

/** The linear addresses the string operation touches, in order (one per iteration). */
export function stringAddresses(io: StringIo, base: bigint): bigint[] {
  const n = Math.max(1, Math.min(16, Math.trunc(io.rep) || 1));
  const step = BigInt(io.size);
  return Array.from({ length: n }, (_, i) => BigInt.asUintN(64, io.df ? base - step * BigInt(i) : base + step * BigInt(i)));
}
