// What L2 runs in a nested-walk reproducer: one instruction making the scenario's access, then
// VMMCALL (intercepted: the exit that says the access completed), HLT and JMP $ as backstops. RAX
// comes from the VMCB (APM 15.5: VMRUN loads RAX, RSP, RIP and RFLAGS; L2 sees every other GPR as
// L1 left it), so the access address rides in RAX and the code needs no immediate of its own.

import type { StringIo } from '../../../engine/emulate/string_io.ts';

export type AccessKind = 'read' | 'write' | 'fetch';

/** VMMCALL; HLT; JMP $. */
export const VMMCALL_TAIL = [0x0f, 0x01, 0xd9, 0xf4, 0xeb, 0xfe] as const;

export interface L2Code {
  bytes: number[];
  /** Offset of the instruction that makes the access. */
  accessAt: number;
  /** INS/OUTS: the instruction's length (exit_info_2 of an IOIO exit is the next RIP, APM 15.10.2). */
  insnLen: number;
  /** How the code reads, for the README and repro.c. */
  text: string;
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/**
 * The code for a read (MOV AL, [rAX]), a write (MOV [rAX], AL), a fetch (VMMCALL at the access's
 * GVA itself), or an INS/OUTS on the scenario's port, count and direction with rDI/rSI = rAX. The
 * same bytes decode alike in 32- and 64-bit code but for the REX.W of MOV rDI/rSI, rAX.
 */
export function l2Code(kind: AccessKind, long: boolean, io: StringIo | null): L2Code {
  if (io) {
    const setup = [
      0xba, ...le32(io.port & 0xffff), // mov edx, port
      0xb9, ...le32(io.rep >>> 0), // mov ecx, count
      io.df ? 0xfd : 0xfc, // std / cld
      ...(long ? [0x48] : []), 0x89, io.kind === 'ins' ? 0xc7 : 0xc6, // mov rdi/rsi, rax
    ];
    const op = io.kind === 'ins' ? 0x6c : 0x6e;
    const insn = [...(io.rep > 1 ? [0xf3] : []), ...(io.size === 1 ? [op] : io.size === 2 ? [0x66, op + 1] : [op + 1])];
    const mnem = `${io.rep > 1 ? 'rep ' : ''}${io.kind}${io.size === 1 ? 'b' : io.size === 2 ? 'w' : 'd'}`;
    return {
      bytes: [...setup, ...insn, ...VMMCALL_TAIL], accessAt: setup.length, insnLen: insn.length,
      text: `mov edx, 0x${io.port.toString(16)}; mov ecx, ${io.rep}; ${io.df ? 'std' : 'cld'}; mov ${long ? 'r' : 'e'}${io.kind === 'ins' ? 'di' : 'si'}, ${long ? 'r' : 'e'}ax; ${mnem}; vmmcall; hlt; jmp $`,
    };
  }
  // A fetch needs no instruction of its own: L2 starts at the access's GVA, so fetching its first
  // instruction is the access, and VMMCALL there says it completed.
  if (kind === 'fetch') return { bytes: [...VMMCALL_TAIL], accessAt: 0, insnLen: 3, text: 'vmmcall; hlt; jmp $, at the access\'s GVA (fetching it is the access)' };
  const ax = long ? 'rax' : 'eax';
  const insn = kind === 'read' ? [0x8a, 0x00] : [0x88, 0x00];
  const text = kind === 'read' ? `mov al, [${ax}]` : `mov [${ax}], al`;
  return { bytes: [...insn, ...VMMCALL_TAIL], accessAt: 0, insnLen: insn.length, text: `${text}; vmmcall; hlt; jmp $` };
}
