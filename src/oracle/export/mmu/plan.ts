// A nested-walk scenario (arch 'mmu', flavour 'svm') as the image runs it: L1's pages moved into
// the arena (memory.ts), L1 = the harness on the reproducer's CPU (its MAXPHYADDR, its EFER.NXE
// for the NPT's NX bit), L2's code placed beside the access (place.ts), and what L1 should see,
// computed by the engine's hardware path (runNestedFault, performer 'hardware': the CPU's walk,
// the hardware #NPF, KVM's reflection of it by nested_svm_inject_npf_exit) over the accesses the
// image's L2 makes, in order: the fetch of its instruction, then the access.

import { stringAddresses, type StringIo } from '../../../engine/emulate/string_io.ts';
import { runNestedFault, type MmuAccess, type NestedFaultResult, type NestedFaultScenario } from '../../../engine/mmu/nested_fault.ts';
import type { WalkResult } from '../../../engine/mmu/walker.ts';
import type { Profile } from '../../../engine/profiles.ts';
import type { OracleCpu } from '../../cpu.ts';
import { describeSvmVerdict, type SvmVerdict } from '../../svm/verdict.ts';
import { l2Code, type AccessKind, type L2Code } from './l2code.ts';
import { ImageMemory, nptLookup, relocateL1 } from './memory.ts';
import { FreshL2, guestFormat, guestMapper, writeBytes, type GuestFormatName } from './place.ts';

export interface NptPlan {
  /** The scenario as the image runs it (the engine's input for the expected verdicts). */
  image: NestedFaultScenario;
  /** The same before L2's code was added: the access alone. */
  projected: NestedFaultScenario;
  mem: ImageMemory;
  format: GuestFormatName;
  kind: AccessKind;
  code: L2Code;
  /** L2's RIP at VMRUN (the code's GVA) and RAX (the access's GVA). */
  rip: bigint;
  rax: bigint;
  /** L1 runs with EFER.NXE (data block REPRO_FLAG_L1_NXE): the NPT's bit 63 is NX rather than reserved. */
  l1Nxe: boolean;
  /** INS/OUTS as the image runs it (its RIP and length are the image's). */
  io: StringIo | null;
  /** 'own-tables': the code has its own mapping; 'access-page': it shares the access's whole walk; 'access-gva': a fetch, L2 starts at the access. */
  placement: 'own-tables' | 'access-page' | 'access-gva';
  /** What the reader must know about the projection. */
  notes: string[];
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;
const PAGE_MASK = ~0xfffn;
/** The VMMCALL that ends L2's code: intercepted, exit 0x81 with nothing in exit_info_1/2 (APM 15.9). */
const VMMCALL_EXIT: SvmVerdict = { kind: 'exit', exit_code: 0x81n, exit_info_1: 0n, exit_info_2: 0n, exit_int_info: 0n };

/** Why a nested-walk scenario has no NPT image (it gets an explain-only one), or null. */
export function nptUnrunnable(s: NestedFaultScenario): string | null {
  if (s.flavour !== 'svm' || s.tdp.kind !== 'npt') return 'it is a nested page-walk scenario under EPT, which the SVM harness does not run';
  if (s.program) return "it runs an L2 instruction stream with L1's intercepts, while the image's L2 makes one access";
  if (s.tdp.levels !== 4) {
    return `L1's NPT has ${s.tdp.levels} levels: the CPU walks nCR3 in the host's paging mode at VMRUN (APM 15.25.5), and the harness's L1 runs VMRUN in 4-level long mode`;
  }
  if (guestFormat(s.guest) === 'long5') return "L2 uses 5-level paging (CR4.LA57), which the reproducer's CPU (qemu64) does not have: VMRUN would fail on CR4";
  if (s.access.implicit) return "the access is an implicit supervisor access (a descriptor-table read), which the image's L2 (one explicit read, write or fetch) does not make";
  return null;
}

function kindOf(a: MmuAccess): AccessKind {
  return a.fetch ? 'fetch' : a.write ? 'write' : 'read';
}

/** The exit L1 sees when the access faults, or null when it completes. */
export function faultVerdict(r: NestedFaultResult): SvmVerdict | null {
  const exit = (e: { exit_code: bigint; exit_info_1: bigint; exit_info_2: bigint }): SvmVerdict => ({ kind: 'exit', exit_code: e.exit_code, exit_info_1: e.exit_info_1, exit_info_2: e.exit_info_2, exit_int_info: 0n });
  if (r.injected_svm) return exit(r.injected_svm);
  // L2's own #PF: vmcb12 intercepts every exception, so it exits 0x4E with the error code and
  // the faulting address (APM 15.12: exit_info_1 = error code, exit_info_2 = CR2).
  if (r.l2_fault) return exit({ exit_code: 0x4en, exit_info_1: r.l2_fault.error_code, exit_info_2: r.l2_fault.address });
  if (r.io_exit_to_l1 && 'exit_code' in r.io_exit_to_l1) return exit(r.io_exit_to_l1);
  return null;
}

function hw(s: NestedFaultScenario, access: MmuAccess, io: StringIo | null, p: Profile): NestedFaultResult {
  return runNestedFault({ ...s, access, io, program: null, performer: 'hardware' }, p);
}

const fetchAt = (gva: bigint): MmuAccess => ({ gva, write: false, fetch: true, implicit: false });

/** The access alone (or the INS/OUTS), as the CPU makes it on `s`'s memory. */
function accessVerdict(s: NestedFaultScenario, io: StringIo | null, p: Profile): SvmVerdict {
  return faultVerdict(hw(s, s.access, io, p)) ?? VMMCALL_EXIT;
}

/** What L1 sees after VMRUN of the image's state: the first access of L2's that faults, else VMMCALL. */
export function imageVerdict(plan: NptPlan, p: Profile): SvmVerdict {
  if (plan.kind !== 'fetch' || plan.io) {
    const f = faultVerdict(hw(plan.image, fetchAt(plan.rip), null, p));
    if (f) return f;
  }
  return accessVerdict(plan.image, plan.io, p);
}

/** The L1 entries (L2's tables, L1's NPT) the scenario's own walks read: placement must leave them alone. */
function readEntries(s: NestedFaultScenario, mem: ImageMemory, p: Profile): Set<bigint> {
  const out = new Set<bigint>();
  const ncr3 = s.tdp.kind === 'npt' ? s.tdp.ncr3 : 0n;
  const viaNpt = (gpa: bigint): void => nptLookup(mem, ncr3, gpa).entries.forEach((e) => out.add(e));
  const addrs = s.io ? stringAddresses(s.io, s.access.gva) : [s.access.gva];
  for (const gva of addrs) {
    const w: WalkResult | null = hw(s, { ...s.access, gva }, null, p).cpu_walk;
    if (!w) continue;
    for (const l of w.levels) {
      viaNpt(l.table_gpa);
      if (l.real_pte_gpa !== null) out.add(l.real_pte_gpa);
    }
    if (w.ok) viaNpt(w.gpa);
    else if (w.stage === 'nested-final') viaNpt(w.fault.address);
    if (w.levels.length === 0) viaNpt(gva);
  }
  // PAE: the CPU reads the PDPTEs from CR3's page through the NPT.
  if (guestFormat(s.guest) === 'pae') {
    const pdpt = s.guest.cr3 & 0xffffffe0n;
    viaNpt(pdpt);
    const at = nptLookup(mem, ncr3, pdpt).pa;
    if (at !== null) out.add(at + 8n * ((s.access.gva >> 30n) & 3n));
  }
  return out;
}

/** PAE: the PDPTEs as the CPU will read them from the image's memory (the engine takes registers). */
function paePdptrs(mem: ImageMemory, ncr3: bigint, cr3: bigint, given: readonly bigint[]): bigint[] {
  const at = nptLookup(mem, ncr3, cr3 & 0xffffffe0n).pa;
  return at === null ? [...given] : [0n, 1n, 2n, 3n].map((i) => mem.read(at + 8n * i));
}

/**
 * Builds the image's memory and L2 state for `s`, or says why it cannot. `profiles[0]` is kvm-next:
 * code placement is checked on it (L2's fetch must not fault, the access must fault as before).
 */
export function planNpt(s: NestedFaultScenario, cpu: OracleCpu, profiles: readonly Profile[]): NptPlan | { why: string } {
  const why = nptUnrunnable(s);
  if (why || s.tdp.kind !== 'npt') return { why: why ?? '' };
  const rel = relocateL1(s.mem.words, s.mem.ram_top, s.tdp.ncr3);
  if (!rel.ok) return { why: rel.why };
  const { mem, ncr3 } = rel;
  const notes: string[] = [];
  const format = guestFormat(s.guest);
  const guest = { ...s.guest, maxphyaddr: cpu.maxphyaddr, pdptrs: format === 'pae' ? paePdptrs(mem, ncr3, s.guest.cr3, s.guest.pdptrs) : s.guest.pdptrs };
  // The NPT's NX bit follows L1's EFER.NXE (nested walks use the host's rules, APM 15.25.5): the
  // image's L1 sets it when the counterexample's L1 has it.
  const nx = s.tdp.nx;
  if (s.tdp.maxphyaddr !== cpu.maxphyaddr || s.guest.maxphyaddr !== cpu.maxphyaddr) notes.push(`MAXPHYADDR is the reproducer CPU's ${cpu.maxphyaddr} (the scenario's: ${s.tdp.maxphyaddr})`);
  const projected: NestedFaultScenario = {
    ...s, mem: mem.phys(), guest, performer: 'hardware', program: null,
    tdp: { ...s.tdp, ncr3, nx, gmet: false, maxphyaddr: cpu.maxphyaddr },
  };
  const kind = kindOf(s.access);
  const long = format === 'long4';
  const code = l2Code(kind, long, s.io ?? null);
  const kvmNext = profiles[0];
  const withIo = (rip: bigint): StringIo | null => (s.io ? { ...s.io, rip: rip + BigInt(code.accessAt), insn_len: code.insnLen } : null);
  // The scenario over the memory as it is now (PAE: the PDPTEs re-read, L2's code may have added one).
  const current = (): NestedFaultScenario => ({ ...projected, mem: mem.phys(), guest: { ...guest, pdptrs: format === 'pae' ? paePdptrs(mem, ncr3, guest.cr3, guest.pdptrs) : guest.pdptrs } });
  const finish = (rip: bigint, placement: NptPlan['placement']): NptPlan => ({
    image: current(),
    projected, mem, format, kind, code, rip, rax: s.access.gva, l1Nxe: nx, io: withIo(rip), placement, notes,
  });

  // A fetch: L2 starts at the access's GVA; when it translates, VMMCALL waits there.
  if (kind === 'fetch' && !s.io) {
    const w = hw(projected, s.access, null, kvmNext).cpu_walk;
    if (w?.ok) writeBytes(mem, w.real_gpa, code.bytes);
    return finish(s.access.gva, 'access-gva');
  }

  const forbidden = readEntries(projected, mem, kvmNext);
  const fresh = new FreshL2(mem, ncr3, forbidden, cpu.maxphyaddr);
  const mapper = guestMapper(format, guest, mem, ncr3, fresh, forbidden);
  const same = (a: SvmVerdict, b: SvmVerdict): boolean => describeSvmVerdict(a) === describeSvmVerdict(b);
  const tryAt = (rip: bigint | null, codePa: bigint): bigint | null => {
    if (rip === null) return null;
    writeBytes(mem, codePa, code.bytes);
    const aug = current();
    if (faultVerdict(hw(aug, fetchAt(rip), null, kvmNext))) return null;
    // The code's mapping must leave the access's walk as it was, on every profile.
    return profiles.every((p) => same(accessVerdict(aug, withIo(rip), p), accessVerdict(projected, withIo(rip), p))) ? rip : null;
  };
  const candidates = mapper ? mapper.candidates(s.access.gva) : [null];
  let checked = 0;
  for (const va of candidates) {
    if (checked >= 64) break;
    const undo = mem.save();
    const codePa = mem.alloc();
    // Unpaged L2: the code's GVA is its L2 GPA, any fresh one.
    const rip = mapper ? (mapper.map(va!, codePa) ? va : null) : fresh.page(codePa);
    if (rip !== null) checked++;
    const ok = tryAt(rip, codePa);
    if (ok !== null) return finish(ok, 'own-tables');
    mem.restore(undo);
  }

  // No free entry gives L2's code a mapping of its own (the access's walk fails in a table every
  // walk starts with, such as CR3's page missing from the NPT): the code sits in the access's own
  // page, so its fetch walks the access's path and meets the same fault first.
  const rip = s.access.gva & PAGE_MASK;
  const w = hw(projected, fetchAt(rip), null, kvmNext).cpu_walk;
  if (w?.ok && (s.access.gva & 0xfffn) >= BigInt(code.bytes.length)) writeBytes(mem, w.real_gpa, code.bytes);
  const plan = finish(rip, 'access-page');
  const first = imageVerdict(plan, kvmNext);
  const alone = accessVerdict(projected, plan.io, kvmNext);
  notes.push(same(first, alone)
    ? `no entry is free for L2's code: it runs at ${hex(rip)} in the access's own page, and fetching it meets the access's fault first with the same exit (a walk of L2's tables reads them alike for a fetch, a read or a write: APM 15.25.6, KVM's nested_access in walk_addr_generic)`
    : `no entry is free for L2's code: it runs at ${hex(rip)} in the access's own page, and fetching it exits (${describeSvmVerdict(first)}) before the access could (${describeSvmVerdict(alone)})`);
  return plan;
}
