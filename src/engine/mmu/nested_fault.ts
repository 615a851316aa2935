// One L2 memory access whose translation may fault in L1's nested TDP, performed either by the CPU
// ("hardware": the fault reaches L0 as a hardware #NPF / EPT violation, whose exit information L0
// then reflects, from_hardware = true) or by L0's instruction emulator ("emulator": KVM's software
// walk finds the fault and must synthesize every exit field, from_hardware = false, while vmcb02 /
// vmcs02 still hold the exit that brought L0 to the emulator). runNestedFault is pure and total.

import { EPT_VIOLATION } from '../../arch/vmx/eptp.ts';
import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import { has, profileDropped, type Profile } from '../profiles.ts';
import { stringAddresses, svmIoioExitInfo, vmxIoExitInfo, type StringIo } from '../emulate/string_io.ts';
import { Trace } from '../trace.ts';
import { nested_ept_inject_page_fault, nested_svm_inject_npf_exit, type EptInjection, type SvmExitInfo, type VmxExitInfo } from './inject.ts';
import { PFERR, type GuestPaging, type NestedTdp, type PhysMem, type X86Exception } from './types.ts';
import { translate_nested_gpa, walk_addr_generic, type WalkResult } from './walker.ts';

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
}

export interface NestedFaultResult {
  trace: Trace;
  /** KVM's walk: the emulator's walk of the GVA, or L0's nested walk of the GPA the CPU reported. */
  walk: WalkResult;
  /** The CPU's own walk and exit (hardware performer). */
  cpu_walk: WalkResult | null;
  hardware_svm: SvmExitInfo | null;
  hardware_vmx: VmxExitInfo | null;
  outcome: 'completed' | 'l2-page-fault' | 'nested-exit' | 'l1-io-exit';
  /** The #PF L2 gets (its error code as L2 sees it: 16 bits). */
  l2_fault: X86Exception | null;
  injected_svm: SvmExitInfo | null;
  injected_vmx: EptInjection | null;
  /** The I/O exit reflected to L1 because L1 intercepts the port (nothing emulated). */
  io_exit_to_l1: SvmExitInfo | VmxExitInfo | null;
  /** Addresses L0's emulator accessed for a string instruction (iterations done before a fault). */
  emulated: bigint[];
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
 * The byte address the CPU reports for a failed nested translation: the guest PTE's GPA for a
 * paging-structure access, the accessed GPA for the final one (SDM §29.3.3.2 "guest-physical
 * address"; APM §15.25.6 EXITINFO2). KVM's walker hands the nested walk page-aligned GPAs instead.
 */
function cpuFaultGpa(r: WalkResult & { ok: false }, gva: bigint): bigint {
  if (r.stage === 'nested-page') {
    const lvl = r.levels[r.levels.length - 1];
    return lvl ? lvl.pte_gpa : r.fault.address;
  }
  return r.fault.address | (gva & 0xfffn);
}

/** The hardware #NPF: exit_info_1 = the fault's P/W/U/RSVD/ID bits plus its stage, exit_info_2 = the GPA. */
function hardwareNpf(r: WalkResult & { ok: false }, gva: bigint): SvmExitInfo {
  const stage = r.stage === 'nested-page' ? PFERR.GUEST_PAGE : PFERR.GUEST_FINAL;
  const bits = BigInt.asUintN(64, r.fault.error_code) & 0x1fn;
  return { exit_code: 0x400n, exit_info_1: stage | bits, exit_info_2: cpuFaultGpa(r, gva) };
}

/** The hardware EPT violation / misconfig: access and permission bits, GVA valid, translated per stage. */
function hardwareEpt(r: WalkResult & { ok: false }, gva: bigint): VmxExitInfo {
  const gpa = cpuFaultGpa(r, gva);
  if ((r.fault.error_code & PFERR.RSVD) !== 0n) return { reason: EXIT_REASON.EPT_MISCONFIG, qual: 0n, gpa, gla: 0n };
  const lowBits = BigInt.asUintN(64, r.fault.exit_qualification) & 0x7fn;
  const gvaBits = BigInt(EPT_VIOLATION.GVA_IS_VALID) | (r.stage === 'nested-final' ? BigInt(EPT_VIOLATION.GVA_TRANSLATED) : 0n);
  return { reason: EXIT_REASON.EPT_VIOLATION, qual: lowBits | gvaBits, gpa, gla: gva };
}

/** __vmx_handle_ept_violation / svm_npf_intercept: the error code L0's MMU walks the reported GPA with. */
function hwErrorCode(flavour: 'svm' | 'vmx', svm: SvmExitInfo | null, vmx: VmxExitInfo | null): bigint {
  if (flavour === 'svm' && svm) return svm.exit_info_1;
  if (!vmx) return 0n;
  const q = vmx.qual;
  let ec = 0n;
  if ((q & BigInt(EPT_VIOLATION.ACC_WRITE)) !== 0n) ec |= PFERR.WRITE;
  if ((q & BigInt(EPT_VIOLATION.ACC_INSTR)) !== 0n) ec |= PFERR.FETCH;
  if ((q & BigInt(EPT_VIOLATION.PROT_READ | EPT_VIOLATION.PROT_WRITE | EPT_VIOLATION.PROT_EXEC)) !== 0n) ec |= PFERR.PRESENT;
  if ((q & BigInt(EPT_VIOLATION.GVA_IS_VALID)) !== 0n) ec |= (q & BigInt(EPT_VIOLATION.GVA_TRANSLATED)) !== 0n ? PFERR.GUEST_FINAL : PFERR.GUEST_PAGE;
  return ec;
}

function inject(res: NestedFaultResult, s: NestedFaultScenario, p: Profile, fault: X86Exception, from_hardware: boolean, svm: SvmExitInfo, vmx: VmxExitInfo): void {
  res.outcome = 'nested-exit';
  if (s.flavour === 'svm') res.injected_svm = nested_svm_inject_npf_exit(res.trace, p, svm, fault, from_hardware);
  else res.injected_vmx = nested_ept_inject_page_fault(res.trace, p, vmx, fault, from_hardware, s.tdp.kind === 'ept' && s.tdp.advanced_exit_info, fault.pml_full === true);
}

/**
 * INS/OUTS: the CPU's I/O exit goes to L1 when L1 intercepts the port (nested_svm_intercept_ioio /
 * nested_vmx_exit_handled_io); otherwise L0 emulates the string operation iteration by iteration,
 * and the first fault ends it. Without the CVE-2020-2732 fix KVM emulated it either way.
 */
function runStringIo(res: NestedFaultResult, s: NestedFaultScenario, io: StringIo, p: Profile, ctx: { t: Trace; p: Profile; mem: PhysMem }, access: bigint, gva: bigint): NestedFaultResult {
  const svmExit = svmIoioExitInfo(io);
  const vmxExit = vmxIoExitInfo(io, gva);
  res.trace.emit('l2_string_io', { kind: io.kind, port: io.port, rep: io.rep, l1_intercepts: io.l1_intercepts });
  if (io.l1_intercepts) {
    res.io_exit_to_l1 = s.flavour === 'svm' ? svmExit : vmxExit;
    res.outcome = 'l1-io-exit';
    if (has(p, 'nested-no-emulate-intercepted')) return res;
  }
  // INS stores to ES:RDI, OUTS loads from DS:RSI.
  const acc = (access & ~(PFERR.WRITE | PFERR.FETCH)) | (io.kind === 'ins' ? PFERR.WRITE : 0n);
  for (const addr of stringAddresses(io, gva)) {
    const r = walk_addr_generic(ctx, s.guest, s.tdp, addr, acc);
    res.walk = r;
    if (r.ok) {
      res.emulated.push(addr);
      continue;
    }
    if (!r.fault.nested_page_fault) {
      res.outcome = 'l2-page-fault';
      res.l2_fault = { ...r.fault, error_code: r.fault.error_code & 0xffffn };
      return res;
    }
    inject(res, s, p, r.fault, false, svmExit, vmxExit);
    return res;
  }
  if (res.outcome !== 'l1-io-exit') res.outcome = 'completed';
  return res;
}

export function runNestedFault(scenario: NestedFaultScenario, p: Profile): NestedFaultResult {
  const t = new Trace(profileDropped(p));
  // The walk may set A/D bits: it works on a copy of L1 memory.
  const mem: PhysMem = { words: { ...scenario.mem.words }, ram_top: scenario.mem.ram_top };
  const ctx = { t, p, mem };
  const access = accessBits(scenario.guest, scenario.access);
  const gva = BigInt.asUintN(64, scenario.access.gva);
  const res: NestedFaultResult = {
    trace: t, walk: { ok: true, gpa: 0n, real_gpa: 0n, pte_access: 0, levels: [] }, cpu_walk: null, hardware_svm: null, hardware_vmx: null,
    outcome: 'completed', l2_fault: null, injected_svm: null, injected_vmx: null, io_exit_to_l1: null, emulated: [],
  };
  if (scenario.io) return runStringIo(res, scenario, scenario.io, p, ctx, access, gva);

  if (scenario.performer === 'emulator') {
    const r = walk_addr_generic(ctx, scenario.guest, scenario.tdp, gva, access);
    res.walk = r;
    if (r.ok) return res;
    if (!r.fault.nested_page_fault) {
      // kvm_inject_emulated_page_fault: an L2 #PF with the 16-bit error code L2 sees.
      res.outcome = 'l2-page-fault';
      res.l2_fault = { ...r.fault, error_code: r.fault.error_code & 0xffffn };
      return res;
    }
    inject(res, scenario, p, r.fault, false, scenario.stale_svm, scenario.stale_vmx);
    return res;
  }

  // The CPU walks; a fault in L2's own tables is L2's #PF, a fault in L1's TDP exits to L0.
  const cpu = walk_addr_generic({ t: new Trace(), p, mem: { words: { ...scenario.mem.words }, ram_top: scenario.mem.ram_top } }, scenario.guest, scenario.tdp, gva, access);
  res.cpu_walk = cpu;
  res.walk = cpu;
  if (cpu.ok) return res;
  if (!cpu.fault.nested_page_fault) {
    res.outcome = 'l2-page-fault';
    res.l2_fault = { ...cpu.fault, error_code: cpu.fault.error_code & 0xffffn };
    return res;
  }
  const hwSvm = scenario.flavour === 'svm' ? hardwareNpf(cpu, gva) : null;
  const hwVmx = scenario.flavour === 'vmx' ? hardwareEpt(cpu, gva) : null;
  res.hardware_svm = hwSvm;
  res.hardware_vmx = hwVmx;
  // L0's MMU (FNAME(page_fault) on the nested TDP) walks the GPA the CPU reported, with the CPU's error code.
  const gpa = hwSvm ? hwSvm.exit_info_2 : (hwVmx?.gpa ?? 0n);
  const ec = hwErrorCode(scenario.flavour, hwSvm, hwVmx) & ~PFERR.RSVD;
  // L0 walks only the reported GPA: it does not know L2's leaf, so no ACC bits feed the nested walk.
  const n = translate_nested_gpa(ctx, scenario.tdp, gpa, ec, 0);
  res.walk = n.ok ? { ok: true, gpa, real_gpa: n.gpa, pte_access: 0, levels: n.levels } : { ok: false, fault: n.fault, levels: n.levels, stage: cpu.stage };
  if (n.ok) {
    // The mapping is fine by the time L0 looks (nothing to reflect): KVM retries the access.
    t.emit('nested_fault_retry', { gpa });
    return res;
  }
  inject(res, scenario, p, n.fault, true, hwSvm ?? scenario.stale_svm, hwVmx ?? scenario.stale_vmx);
  return res;
}
