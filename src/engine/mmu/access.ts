// One L2 linear access, performed either by the CPU or by L0's instruction emulator, with what KVM
// does when its translation fails in L1's nested TDP. Shared by the single-access scenarios and the
// L2 instruction streams (src/engine/emulate/l2_program.ts).
//  - CPU: the CPU walks; a fault in L2's own tables is L2's #PF (the caller routes it); a fault in
//    L1's TDP exits to L0 with hardware-filled exit information, L0's MMU walks the reported GPA
//    (FNAME(page_fault) on the nested MMU) and reflects the fault, from_hardware = true.
//  - Emulator: KVM's software walk (walk_addr_generic via gva_to_gpa); a fault in L1's TDP is
//    synthesized, from_hardware = false, while vmcb02 / vmcs02 still hold the exit that brought L0 to
//    the emulator (m.exit02).

import { has, type Profile } from '../profiles.ts';
import { Trace } from '../trace.ts';
import { hardwareEpt, hardwareNpf, hwErrorCode } from './hardware_exit.ts';
import { nested_ept_inject_page_fault, nested_svm_inject_npf_exit, type SvmExitInfo, type VmxExitInfo } from './inject.ts';
import type { NestedFaultResult, NestedFaultScenario } from './nested_fault.ts';
import { nested_ept_invalidate_addr } from './prev_roots.ts';
import { PFERR, type PhysMem, type X86Exception } from './types.ts';
import { translate_nested_gpa, walk_addr_generic } from './walker.ts';

/** The state one run threads through its accesses. */
export interface AccessMachine {
  t: Trace;
  p: Profile;
  /** L1 memory as KVM's walks update it (A/D bits). */
  mem: PhysMem;
  s: NestedFaultScenario;
  res: NestedFaultResult;
  /** vmcb02 / vmcs02 exit fields as the last exit to L0 left them. */
  exit02: { svm: SvmExitInfo; vmx: VmxExitInfo };
}

export type AccessResult =
  | { kind: 'ok'; real_gpa: bigint }
  /** A fault in L2's own tables; error_code as L2 sees it (16 bits). */
  | { kind: 'l2-pf'; fault: X86Exception }
  /** A fault in L1's TDP, injected into L1 (res.injected_*). */
  | { kind: 'nested-exit' }
  /** L0's walk of the GPA the CPU reported found nothing to reflect: KVM re-enters L2. */
  | { kind: 'retry' };

function l2Fault(f: X86Exception): X86Exception {
  return { ...f, error_code: f.error_code & 0xffffn };
}

/** Reflect a fault in L1's TDP into L1 as #NPF / EPT violation (misconfig, PML full). */
function inject(m: AccessMachine, fault: X86Exception, from_hardware: boolean, access: bigint): void {
  const { res, s, p } = m;
  res.outcome = 'nested-exit';
  res.injected_from_hardware = from_hardware;
  res.fault_access = { write: (access & PFERR.WRITE) !== 0n, fetch: (access & PFERR.FETCH) !== 0n };
  res.exit02_at_injection = { svm: { ...m.exit02.svm }, vmx: { ...m.exit02.vmx } };
  if (s.flavour === 'svm') res.injected_svm = nested_svm_inject_npf_exit(m.t, p, m.exit02.svm, fault, from_hardware);
  else {
    res.injected_vmx = nested_ept_inject_page_fault(m.t, p, m.exit02.vmx, fault, from_hardware, s.tdp.kind === 'ept' && s.tdp.advanced_exit_info, fault.pml_full === true);
    // A PML-full exit does not invalidate: L1 only has to empty its log.
    if (s.prev_roots && s.tdp.kind === 'ept' && res.injected_vmx.reason !== 62) res.prev_roots = nested_ept_invalidate_addr(m.t, p, s.prev_roots, s.tdp.eptp, fault.address);
  }
}

/** L0's emulator accesses `gva` (KVM's software walk). */
export function emulator_access(m: AccessMachine, gva: bigint, access: bigint): AccessResult {
  const r = walk_addr_generic(m, m.s.guest, m.s.tdp, gva, access);
  m.res.walk = r;
  m.res.cpu_walk = null;
  if (r.ok) return { kind: 'ok', real_gpa: r.real_gpa };
  if (!r.fault.nested_page_fault) {
    m.res.fault_access = { write: (access & PFERR.WRITE) !== 0n, fetch: (access & PFERR.FETCH) !== 0n };
    return { kind: 'l2-pf', fault: l2Fault(r.fault) };
  }
  inject(m, r.fault, false, access);
  return { kind: 'nested-exit' };
}

/** The CPU accesses `gva` while running L2. */
export function cpu_access(m: AccessMachine, gva: bigint, access: bigint): AccessResult {
  const { s, p, res } = m;
  // The CPU's walk sets A/D bits in its own copy: KVM's state is what L0's later walks see.
  const cpu = walk_addr_generic({ t: new Trace(), p, mem: { words: { ...m.mem.words }, ram_top: m.mem.ram_top } }, s.guest, s.tdp, gva, access);
  res.cpu_walk = cpu;
  res.walk = cpu;
  if (cpu.ok) return { kind: 'ok', real_gpa: cpu.real_gpa };
  if (!cpu.fault.nested_page_fault) {
    res.fault_access = { write: (access & PFERR.WRITE) !== 0n, fetch: (access & PFERR.FETCH) !== 0n };
    return { kind: 'l2-pf', fault: l2Fault(cpu.fault) };
  }
  const hwSvm = s.flavour === 'svm' ? hardwareNpf(cpu, gva) : null;
  const hwVmx = s.flavour === 'vmx' ? hardwareEpt(cpu, gva) : null;
  res.hardware_svm = hwSvm;
  res.hardware_vmx = hwVmx;
  if (hwSvm) m.exit02.svm = hwSvm;
  if (hwVmx) m.exit02.vmx = hwVmx;
  // L0's MMU walks the GPA the CPU reported with the CPU's error code; it does not know L2's leaf, so
  // no ACC bits feed the nested walk.
  const gpa = hwSvm ? hwSvm.exit_info_2 : (hwVmx?.gpa ?? 0n);
  const ec = hwErrorCode(s.flavour, hwSvm, hwVmx) & ~PFERR.RSVD;
  const n = translate_nested_gpa(m, s.tdp, gpa, ec, 0);
  res.walk = n.ok ? { ok: true, gpa, real_gpa: n.gpa, pte_access: 0, levels: n.levels } : { ok: false, fault: n.fault, levels: n.levels, stage: cpu.stage };
  if (n.ok) {
    m.t.emit('nested_fault_retry', { gpa });
    return { kind: 'retry' };
  }
  inject(m, n.fault, true, access);
  return { kind: 'nested-exit' };
}

/** Whether the emulator honours L1's intercept (CVE-2020-2732 fix). */
export function emulatorHonoursIntercepts(p: Profile): boolean {
  return has(p, 'nested-no-emulate-intercepted');
}
