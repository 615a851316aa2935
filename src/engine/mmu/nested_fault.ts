// One L2 memory access whose translation may fault in L1's nested TDP, performed either by the CPU
// ("hardware": the fault reaches L0 as a hardware #NPF / EPT violation, whose exit information L0
// then reflects, from_hardware = true) or by L0's instruction emulator ("emulator": KVM's software
// walk finds the fault and must synthesize every exit field, from_hardware = false, while vmcb02 /
// vmcs02 still hold the exit that brought L0 to the emulator). runNestedFault is pure and total.

import { profileDropped, type Profile } from '../profiles.ts';
import type { L2Program } from '../emulate/l2_insn.ts';
import { run_l2_program, type L2Step } from '../emulate/l2_program.ts';
import type { L1Exit } from '../emulate/routing.ts';
import { stringAddresses, svmIoioExitInfo, vmxIoExitInfo, type StringIo } from '../emulate/string_io.ts';
import { Trace } from '../trace.ts';
import { cpu_access, emulator_access, emulatorHonoursIntercepts, type AccessMachine } from './access.ts';
import type { EptInjection, SvmExitInfo, VmxExitInfo } from './inject.ts';
import type { PrevRoot } from './prev_roots.ts';
import { PFERR, type GuestPaging, type NestedTdp, type PhysMem, type X86Exception } from './types.ts';
import type { WalkResult } from './walker.ts';

export interface MmuAccess {
  gva: bigint;
  write: boolean;
  fetch: boolean;
  /** An implicit supervisor access (descriptor-table or similar): SMAP ignores EFLAGS.AC. */
  implicit: boolean;
}

export interface NestedFaultScenario {
  arch: 'mmu';
  flavour: 'svm' | 'vmx';
  mem: PhysMem;
  guest: GuestPaging;
  tdp: NestedTdp;
  access: MmuAccess;
  performer: 'hardware' | 'emulator';
  /** vmcb02's exit fields when L0's emulator runs (e.g. the IOIO exit of an INS it emulates). */
  stale_svm: SvmExitInfo;
  /** vmcs02's exit fields when L0's emulator runs. */
  stale_vmx: VmxExitInfo;
  /**
   * The access is the memory operand of an INS/OUTS (ES:RDI / DS:RSI = access.gva): the CPU's I/O
   * exit decides whether L1 gets it or L0 emulates; the I/O exit is then the stale exit information.
   */
  io?: StringIo | null;
  /**
   * An L2 instruction stream run instead of the single access (src/engine/emulate/l2_program.ts):
   * each exit is routed to L1 or L0 as KVM routes it; vmcb02 / vmcs02 start with stale_svm / stale_vmx.
   */
  program?: L2Program | null;
  /** VMX: L0's cached previous shadow-EPT roots (kvm_mmu.prev_roots) when the fault happens. */
  prev_roots?: PrevRoot[] | null;
}

export interface NestedFaultResult {
  trace: Trace;
  /** KVM's walk: the emulator's walk of the GVA, or L0's nested walk of the GPA the CPU reported. */
  walk: WalkResult;
  /** The CPU's own walk and exit (hardware performer). */
  cpu_walk: WalkResult | null;
  hardware_svm: SvmExitInfo | null;
  hardware_vmx: VmxExitInfo | null;
  outcome: 'completed' | 'l2-page-fault' | 'nested-exit' | 'l1-io-exit' | 'l1-exit' | 'l2-halted';
  /** The #PF L2 gets (its error code as L2 sees it: 16 bits). */
  l2_fault: X86Exception | null;
  injected_svm: SvmExitInfo | null;
  injected_vmx: EptInjection | null;
  /** The I/O exit reflected to L1 because L1 intercepts the port (nothing emulated). */
  io_exit_to_l1: SvmExitInfo | VmxExitInfo | null;
  /** Addresses L0's emulator accessed for a string instruction (iterations done before a fault). */
  emulated: bigint[];
  /** The injected nested fault came from a hardware exit (true) or was synthesized by L0 (false). */
  injected_from_hardware: boolean | null;
  /** The access whose translation failed (injected fault or L2 #PF). */
  fault_access: { write: boolean; fetch: boolean } | null;
  /** vmcb02 / vmcs02's exit fields when the nested fault was injected: what a synthesized fault must not read. */
  exit02_at_injection: { svm: SvmExitInfo; vmx: VmxExitInfo } | null;
  /** Program runs: any exit reflected to L1 other than a nested fault (I/O, MSR, CPUID, exception, …). */
  l1_exit: L1Exit | null;
  /** Program runs: what happened to each instruction, in order. */
  steps: L2Step[];
  /** L0's cached previous shadow-EPT roots after an injection (null: none modelled or nothing injected). */
  prev_roots: PrevRoot[] | null;
}

/** The access as PFERR bits: W, FETCH, USER at CPL 3 (unless implicit), IMPLICIT_ACCESS. */
export function accessBits(g: GuestPaging, a: MmuAccess): bigint {
  let b = 0n;
  if (a.write) b |= PFERR.WRITE;
  if (a.fetch) b |= PFERR.FETCH;
  if (g.cpl === 3 && !a.implicit) b |= PFERR.USER;
  if (a.implicit) b |= PFERR.IMPLICIT_ACCESS;
  return b;
}

/**
 * INS/OUTS: the CPU's I/O exit goes to L1 when L1 intercepts the port (nested_svm_intercept_ioio /
 * nested_vmx_exit_handled_io); otherwise L0 emulates the string operation iteration by iteration,
 * and the first fault ends it. Without the CVE-2020-2732 fix KVM emulated it either way.
 */
function runStringIo(m: AccessMachine, io: StringIo, access: bigint, gva: bigint): void {
  const { res, s } = m;
  m.exit02 = { svm: svmIoioExitInfo(io), vmx: vmxIoExitInfo(io, gva) };
  res.trace.emit('l2_string_io', { kind: io.kind, port: io.port, rep: io.rep, l1_intercepts: io.l1_intercepts });
  if (io.l1_intercepts) {
    res.io_exit_to_l1 = s.flavour === 'svm' ? m.exit02.svm : m.exit02.vmx;
    res.outcome = 'l1-io-exit';
    if (emulatorHonoursIntercepts(m.p)) return;
  }
  // INS stores to ES:RDI, OUTS loads from DS:RSI.
  const acc = (access & ~(PFERR.WRITE | PFERR.FETCH)) | (io.kind === 'ins' ? PFERR.WRITE : 0n);
  for (const addr of stringAddresses(io, gva)) {
    const r = emulator_access(m, addr, acc);
    if (r.kind === 'ok') {
      res.emulated.push(addr);
      continue;
    }
    if (r.kind === 'l2-pf') {
      res.outcome = 'l2-page-fault';
      res.l2_fault = r.fault;
    }
    return;
  }
  if (res.outcome !== 'l1-io-exit') res.outcome = 'completed';
}

export function runNestedFault(scenario: NestedFaultScenario, p: Profile): NestedFaultResult {
  const t = new Trace(profileDropped(p));
  // The walk may set A/D bits: it works on a copy of L1 memory.
  const mem: PhysMem = { words: { ...scenario.mem.words }, ram_top: scenario.mem.ram_top };
  const access = accessBits(scenario.guest, scenario.access);
  const gva = BigInt.asUintN(64, scenario.access.gva);
  const res: NestedFaultResult = {
    trace: t, walk: { ok: true, gpa: 0n, real_gpa: 0n, pte_access: 0, levels: [] }, cpu_walk: null, hardware_svm: null, hardware_vmx: null,
    outcome: 'completed', l2_fault: null, injected_svm: null, injected_vmx: null, io_exit_to_l1: null, emulated: [],
    injected_from_hardware: null, fault_access: null, exit02_at_injection: null, l1_exit: null, steps: [], prev_roots: null,
  };
  const m: AccessMachine = { t, p, mem, s: scenario, res, exit02: { svm: { ...scenario.stale_svm }, vmx: { ...scenario.stale_vmx } } };
  if (scenario.program) {
    run_l2_program(m, scenario.program);
    return res;
  }
  if (scenario.io) {
    runStringIo(m, scenario.io, access, gva);
    return res;
  }
  const r = scenario.performer === 'emulator' ? emulator_access(m, gva, access) : cpu_access(m, gva, access);
  if (r.kind === 'l2-pf') {
    // kvm_inject_emulated_page_fault / the CPU's own #PF: L2 sees a 16-bit error code.
    res.outcome = 'l2-page-fault';
    res.l2_fault = r.fault;
  }
  return res;
}
