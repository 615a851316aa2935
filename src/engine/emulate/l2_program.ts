// Runs an L2 instruction stream inside a nested-paging scenario, routing every exit the way KVM does
// (issue #5 §3–4): an instruction L1 intercepts exits to L1 and is never emulated (CVE-2020-2732);
// otherwise it runs in hardware, or exits to L0, which handles it for L2 (I/O to its own devices,
// MSRs, VMMCALL's #UD) or emulates it (string I/O, MMIO). Memory accesses go through the CPU's walk
// or the emulator's (src/engine/mmu/access.ts); every exit to L0 overwrites vmcb02 / vmcs02's exit
// fields, which is the stale data a later synthesized fault must not read. The run stops at the
// first exit to L1 or when L2 halts.
//
// Model choices:
//  - An exception L1 does not intercept is delivered to L2, whose handler resumes at the next
//    instruction (handlers are not modelled).
//  - L0 intercepts every MSR except the bases it passes through; an MSR L0 does not know raises #GP.
//  - With nested TDP, L0 intercepts neither INVLPG nor CR3 loads: they run in hardware.
//  - Instruction fetch is not walked (code pages are mapped); the fetch path is the single-access one.

import { EFER } from '../../arch/svm/defs.ts';
import { SVM_EXIT } from '../../arch/svm/exit_codes.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import { has } from '../profiles.ts';
import { cpu_access, emulator_access, type AccessMachine, type AccessResult } from '../mmu/access.ts';
import { hardwareMmioExit } from '../mmu/hardware_exit.ts';
import { PFERR, type X86Exception } from '../mmu/types.ts';
import { L2_INSN_LEN, type L2Op, type L2OpName, type L2Program } from './l2_insn.ts';
import { l1_wants_exception_exit, l1_wants_insn_exit, type L1Exit } from './routing.ts';
import { stringAddresses, svmIoioExitInfo, vmxIoExitInfo } from './string_io.ts';

/** What happened to one instruction. */
export interface L2Step {
  i: number;
  op: L2OpName;
  rip: bigint;
  /** Who completed it: the CPU in L2, L0 (after an exit), L0's emulator, or L1 (exit reflected). */
  by: 'cpu' | 'l0' | 'emulator' | 'l1';
  /** Linear addresses L0's emulator accessed for it. */
  emulated: bigint[];
  note: string;
  /** The exception it raised (delivered to L2, or reflected to L1). */
  exception?: { vector: number; error_code: bigint };
}

/** MSRs KVM passes through to L2 when L1 does (no exit to L0): FS/GS/KERNEL_GS base. */
const L0_PASSTHROUGH_MSRS = new Set([0xc0000100, 0xc0000101, 0xc0000102]);
/** MSRs L0 emulates for L2: TSC, APIC base, SYSENTER_CS/ESP/EIP, plus the passthrough ones. */
const L0_KNOWN_MSRS = new Set([0x10, 0x1b, 0x174, 0x175, 0x176, ...L0_PASSTHROUGH_MSRS]);

const VEC = { UD: 6, GP: 13, PF: 14 } as const;
const PAGE = 0x1000n;

/** The linear addresses of an access of `size` bytes at gva, one per page it touches. */
export function accessPieces(gva: bigint, size: number): bigint[] {
  const end = BigInt.asUintN(64, gva + BigInt(size) - 1n);
  const first = gva & ~(PAGE - 1n);
  return (end & ~(PAGE - 1n)) !== first ? [gva, end & ~(PAGE - 1n)] : [gva];
}

/** 'next': completed; 'skipped': an exception went to L2 (the instruction did not complete); 'stop': the run ends. */
type Flow = 'next' | 'skipped' | 'stop';

class L2Run {
  rip: bigint;
  rsp: bigint;
  readonly steps: L2Step[] = [];
  constructor(readonly m: AccessMachine, readonly prog: L2Program) {
    this.rip = prog.rip;
    this.rsp = prog.rsp;
  }

  step(i: number, op: L2Op, by: L2Step['by'], note: string, emulated: bigint[] = []): void {
    this.steps.push({ i, op: op.op, rip: this.rip, by, emulated, note });
    this.m.res.steps = this.steps;
  }

  /** A hardware exit to L0 for an instruction L0 intercepts: vmcb02 / vmcs02 now describe it. */
  exitToL0(svm: { exit_code: number; info1?: bigint; info2?: bigint }, vmx: { reason: number; qual?: bigint; gla?: bigint }): void {
    const { m } = this;
    if (m.s.flavour === 'svm') m.exit02.svm = { exit_code: BigInt(svm.exit_code), exit_info_1: svm.info1 ?? 0n, exit_info_2: svm.info2 ?? 0n };
    else m.exit02.vmx = { reason: vmx.reason, qual: vmx.qual ?? 0n, gpa: 0n, gla: vmx.gla ?? 0n };
    m.t.emit('l2_exit_to_l0', m.s.flavour === 'svm' ? { exit_code: svm.exit_code } : { reason: vmx.reason });
  }

  reflect(i: number, op: L2Op, exit: L1Exit, note: string): void {
    const { res } = this.m;
    res.l1_exit = exit;
    res.outcome = op.op === 'ins' || op.op === 'outs' ? 'l1-io-exit' : 'l1-exit';
    if (op.op === 'ins' || op.op === 'outs') res.io_exit_to_l1 = exit.svm ?? exit.vmx;
    this.m.t.emit('nested_vmexit_to_l1', { what: exit.what, ...(exit.svm ? { exit_code: exit.svm.exit_code } : { reason: exit.vmx?.reason ?? 0 }) });
    this.step(i, op, 'l1', note);
  }

  /** An exception raised for L2 (by the CPU or by L0): to L1 if it intercepts it, else L2 handles it. */
  exception(i: number, op: L2Op, vector: number, error_code: bigint, address: bigint, raisedBy: 'cpu' | 'l0' | 'emulator', fault: X86Exception | null, emulated: bigint[] = []): Flow {
    const { m } = this;
    const inverted = !has(m.p, 'vmx-pfec-match-rule');
    const exit = l1_wants_exception_exit(m.s.flavour, this.prog.l1, vector, error_code, address, inverted);
    if (exit) {
      this.m.res.emulated.push(...emulated);
      this.reflect(i, op, exit, `vector ${vector} reflected to L1`);
      const last = this.steps[this.steps.length - 1];
      last.emulated = emulated;
      last.exception = { vector, error_code };
      return 'stop';
    }
    m.t.emit('kvm_inj_exception_l2', { vector, error_code, address });
    if (fault) {
      m.res.l2_fault = fault;
      m.res.outcome = 'l2-page-fault';
    }
    this.step(i, op, raisedBy, `vector ${vector} delivered to L2`, emulated);
    this.steps[this.steps.length - 1].exception = { vector, error_code };
    return 'skipped';
  }

  /** The result of an access that did not complete: an L2 #PF to route, or the run's end. */
  accessFailed(i: number, op: L2Op, r: AccessResult, by: 'cpu' | 'emulator', emulated: bigint[]): Flow {
    if (r.kind === 'l2-pf') return this.exception(i, op, VEC.PF, r.fault.error_code, r.fault.address, by, r.fault, emulated);
    this.m.res.emulated.push(...emulated);
    if (r.kind === 'nested-exit') {
      this.step(i, op, by === 'cpu' ? 'l0' : 'emulator', 'nested fault reflected to L1', emulated);
      return 'stop';
    }
    // The CPU faults, L0's walk maps the GPA: L0 re-enters L2, which faults again. Stop here.
    this.m.res.outcome = 'completed';
    this.step(i, op, 'l0', 'L0 found nothing to reflect: retry', emulated);
    return 'stop';
  }

  /** L0's emulator performs the access(es) of one instruction, in order. */
  emulate(i: number, op: L2Op, addrs: readonly bigint[], access: bigint): Flow {
    const done: bigint[] = [];
    for (const a of addrs) {
      const r = emulator_access(this.m, a, access);
      if (r.kind !== 'ok') return this.accessFailed(i, op, r, 'emulator', done);
      done.push(a);
    }
    this.m.res.emulated.push(...done);
    this.step(i, op, 'emulator', 'emulated by L0', done);
    return 'next';
  }

  /** A data access by the CPU: an MMIO page (L1 GPA outside L1's memslots) exits to L0, which emulates the whole instruction. */
  memory(i: number, op: L2Op, gva: bigint, size: number, write: boolean): Flow {
    const { m } = this;
    const access = (write ? PFERR.WRITE : 0n) | (m.s.guest.cpl === 3 ? PFERR.USER : 0n);
    const pieces = accessPieces(gva, size);
    for (const a of pieces) {
      const r = cpu_access(m, a, access);
      if (r.kind !== 'ok') return this.accessFailed(i, op, r, 'cpu', []);
      if (r.real_gpa >= m.mem.ram_top) {
        const w = m.res.walk;
        const l2gpa = w.ok ? w.gpa : 0n;
        const hw = hardwareMmioExit(m.s.flavour, l2gpa, a, access);
        if (m.s.flavour === 'svm') m.exit02.svm = hw.svm;
        else m.exit02.vmx = hw.vmx;
        m.t.emit('l2_mmio_exit_to_l0', { gpa: l2gpa, l1_gpa: r.real_gpa });
        return this.emulate(i, op, pieces, access);
      }
    }
    this.step(i, op, 'cpu', 'completed in L2');
    return 'next';
  }

  run(): void {
    const { m, prog } = this;
    const long = (m.s.guest.efer & EFER.LMA) !== 0n;
    const stackWidth = long ? 8 : 4;
    for (let i = 0; i < prog.ops.length; i++) {
      const op = prog.ops[i];
      const len = L2_INSN_LEN[op.op];
      m.t.emit('l2_insn', { i, op: op.op, rip: this.rip });
      const exit = l1_wants_insn_exit(m.s.flavour, op, prog.l1, m.mem, this.rip, len, !has(m.p, 'nested-io-bitmap-every-port'));
      if (exit) {
        this.reflect(i, op, exit, 'L1 intercepts it');
        // Before 07721feee46b L0 went on to emulate the string instruction for L2 as well.
        if ((op.op === 'ins' || op.op === 'outs') && !has(m.p, 'nested-no-emulate-intercepted')) this.emulateString(i, op, len);
        return;
      }
      const flow = this.execute(i, op, len, stackWidth);
      if (flow === 'stop') return;
      this.rip = BigInt.asUintN(64, this.rip + BigInt(len));
    }
  }

  emulateString(i: number, op: Extract<L2Op, { op: 'ins' | 'outs' }>, len: number): Flow {
    const { m } = this;
    const io = { kind: op.op, port: op.port, size: op.size, rep: op.rep, df: op.df, insn_len: len, rip: this.rip };
    // INS stores to ES:RDI, OUTS loads from DS:RSI; the I/O exit to L0 is what vmcb02 / vmcs02 hold.
    m.exit02.svm = m.s.flavour === 'svm' ? svmIoioExitInfo(io) : m.exit02.svm;
    m.exit02.vmx = m.s.flavour === 'vmx' ? vmxIoExitInfo(io, op.gva) : m.exit02.vmx;
    const access = (op.op === 'ins' ? PFERR.WRITE : 0n) | (m.s.guest.cpl === 3 ? PFERR.USER : 0n);
    return this.emulate(i, op, stringAddresses({ ...io, l1_intercepts: false }, op.gva), access);
  }

  execute(i: number, op: L2Op, len: number, stackWidth: number): Flow {
    const { m } = this;
    switch (op.op) {
      case 'mov':
        return this.memory(i, op, op.gva, op.size, op.store);
      case 'push': {
        const flow = this.memory(i, op, BigInt.asUintN(64, this.rsp - BigInt(stackWidth)), stackWidth, true);
        if (flow === 'next') this.rsp = BigInt.asUintN(64, this.rsp - BigInt(stackWidth));
        return flow;
      }
      case 'pop': {
        const flow = this.memory(i, op, this.rsp, stackWidth, false);
        if (flow === 'next') this.rsp = BigInt.asUintN(64, this.rsp + BigInt(stackWidth));
        return flow;
      }
      case 'in':
      case 'out': {
        // L0 intercepts all port I/O: its device model completes the access.
        const io = { kind: op.op, port: op.port, size: op.size, rep: 1, insn_len: len, rip: this.rip };
        const svm = svmIoioExitInfo(io);
        this.exitToL0({ exit_code: SVM_EXIT.IOIO, info1: svm.exit_info_1, info2: svm.exit_info_2 }, { reason: EXIT_REASON.IO_INSTRUCTION, qual: vmxIoExitInfo(io, 0n).qual });
        this.step(i, op, 'l0', `port ${op.port.toString(16)} handled by L0`);
        return 'next';
      }
      case 'ins':
      case 'outs':
        return this.emulateString(i, op, len);
      case 'cpuid':
        // Only SVM gets here (VMX CPUID always exits to L1): L0 intercepts CPUID and emulates it.
        this.exitToL0({ exit_code: SVM_EXIT.CPUID }, { reason: EXIT_REASON.CPUID });
        this.step(i, op, 'l0', 'emulated by L0');
        return 'next';
      case 'hlt':
        this.exitToL0({ exit_code: SVM_EXIT.HLT }, { reason: EXIT_REASON.HLT });
        m.res.outcome = 'l2-halted';
        this.step(i, op, 'l0', 'L2 halted');
        return 'stop';
      case 'hypercall':
        // SVM only (VMCALL always exits to L1): KVM intercepts VMMCALL while L2 runs and raises #UD
        // when L1 does not ("KVM: nSVM: Raise #UD if unhandled VMMCALL isn't intercepted by L1").
        this.exitToL0({ exit_code: SVM_EXIT.VMMCALL }, { reason: EXIT_REASON.VMCALL });
        return this.exception(i, op, VEC.UD, 0n, 0n, 'l0', null);
      case 'invlpg':
      case 'mov-cr3':
        this.step(i, op, 'cpu', 'completed in L2 (not intercepted with nested TDP)');
        return 'next';
      case 'rdmsr':
      case 'wrmsr':
        if (L0_PASSTHROUGH_MSRS.has(op.msr)) {
          this.step(i, op, 'cpu', 'MSR passed through');
          return 'next';
        }
        this.exitToL0({ exit_code: SVM_EXIT.MSR, info1: op.op === 'wrmsr' ? 1n : 0n }, { reason: op.op === 'wrmsr' ? EXIT_REASON.MSR_WRITE : EXIT_REASON.MSR_READ });
        if (!L0_KNOWN_MSRS.has(op.msr)) return this.exception(i, op, VEC.GP, 0n, 0n, 'l0', null);
        this.step(i, op, 'l0', 'emulated by L0');
        return 'next';
    }
  }
}

/** Runs `prog` (never throws); the machine's result records every step. */
export function run_l2_program(m: AccessMachine, prog: L2Program): void {
  m.res.steps = [];
  new L2Run(m, prog).run();
}
