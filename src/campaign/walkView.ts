// The replay view of a nested-paging case (arch 'mmu'): the two-dimensional walk level by level
// (table GPA, entry GPA, the nested translation of the table page, the entry decoded, a verdict),
// then the exit that brought L0 to the fault (the CPU's #NPF / EPT violation, or the stale
// vmcb02 / vmcs02 exit its emulator ran after), then the exit injected into L1 with every set bit
// of exit_info_1 (PFERR) or of the EPT-violation qualification named and explained.
// Pure: re-runs runNestedFault and only reads its result.

import { CR4_PAE, EFER_LMA, EPT_VIOLATION_BIT_NAMES, PFERR_BITS, describeEntry, describePferr } from '../arch/paging/index.ts';
import { svmExitName } from '../arch/svm/exit_codes.ts';
import { EXIT_REASON, exitReasonName } from '../arch/vmx/exit_reasons.ts';
import type { SvmExitInfo, VmxExitInfo } from '../engine/mmu/inject.ts';
import { runNestedFault, type NestedFaultResult, type NestedFaultScenario } from '../engine/mmu/nested_fault.ts';
import type { PrevRoot } from '../engine/mmu/prev_roots.ts';
import { PFERR, type X86Exception } from '../engine/mmu/types.ts';
import { translate_nested_gpa, type WalkLevel, type WalkResult } from '../engine/mmu/walker.ts';
import type { Profile } from '../engine/profiles.ts';
import { Trace } from '../engine/trace.ts';
import { l1ExitLines, programSetupLines, stepLines } from './programView.ts';

/** One paging-structure entry the walk read. Addresses are hex strings. */
export interface WalkViewRow {
  level: number;
  /** Entry name at this level: 'PML4E', 'PDE', 'EPT PTE', … */
  entry: string;
  table_gpa: string;
  pte_gpa: string;
  /** The nested translation of the table page: 'real 0x…', 'identity' (no nested TDP), or 'FAILED: …'. */
  nested: string;
  /** The entry as read, or null when it could not be read. */
  value: string | null;
  /** describeEntry's one-line decode ('-' when not read). */
  decoded: string;
  verdict: string;
}

export interface WalkViewSection {
  title: string;
  rows: WalkViewRow[];
  /** How the walk ended: the translation, the L2 #PF or the nested fault with its bits. */
  result: string;
}

export interface WalkViewExit {
  title: string;
  lines: string[];
}

export interface WalkView {
  /** Flavour, performer, access, L2 paging mode and L1's TDP. */
  setup: string[];
  walks: WalkViewSection[];
  outcome: NestedFaultResult['outcome'];
  /** The L2 #PF (outcome 'l2-page-fault'). */
  l2Fault: string | null;
  /** The exit L0 took: the hardware exit information, or the stale exit its emulator ran after. */
  l0Exit: WalkViewExit;
  /** The exit injected into L1 (outcome 'nested-exit'), or for streams any other exit reflected to L1. */
  injected: WalkViewExit | null;
  /** Streams: one row per executed instruction. */
  steps: string[] | null;
}

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;

/** What each #PF / #NPF error-code bit says when set (SDM §4.7, APM §8.4.2, §15.25.6). */
const PFERR_MEANING: Record<string, string> = {
  P: 'the entry was present: a protection or reserved-bit violation (clear = not present)',
  W: 'the access was a write',
  U: 'the access was a user-mode access (nested walks: every paging-structure access)',
  RSVD: 'a reserved bit was set in a paging-structure entry',
  FETCH: 'the access was an instruction fetch',
  PK: 'protection-key violation',
  SS: 'shadow-stack access',
  HLAT: 'HLAT paging',
  SGX: 'SGX access-control violation',
  GUEST_RMP: 'SEV-SNP RMP check failed',
  GUEST_FINAL: 'the nested translation of the final guest-physical address failed',
  GUEST_PAGE: 'the nested translation of a guest paging-structure address failed',
  GUEST_ENC: 'SEV-SNP encrypted access',
  GUEST_SIZEM: 'SEV-SNP page-size mismatch',
  GUEST_VMPL: 'SEV-SNP VMPL violation',
  IMPLICIT_ACCESS: 'KVM-synthetic (implicit supervisor access): must never reach a guest',
  PRIVATE_ACCESS: 'KVM-synthetic (guest_memfd private access): must never reach a guest',
};

/** What each EPT-violation qualification bit says when set (SDM Table 28-7). */
const QUAL_MEANING: Record<string, string> = {
  ACC_READ: 'the access was a data read',
  ACC_WRITE: 'the access was a data write',
  ACC_INSTR: 'the access was an instruction fetch',
  PROT_READ: 'the EPT entries allowed reads (AND over the walk)',
  PROT_WRITE: 'the EPT entries allowed writes (AND over the walk)',
  PROT_EXEC: 'the EPT entries allowed (supervisor) execution (AND over the walk)',
  PROT_USER_EXEC: 'the EPT entries allowed user-mode execution (MBEC)',
  GVA_IS_VALID: 'the guest-linear-address field is valid',
  GVA_TRANSLATED: 'the access was to the translated address (clear = to a paging-structure entry)',
  GVA_USER: 'advanced info: the linear address was user-mode accessible',
  GVA_WRITABLE: 'advanced info: the linear address was writable',
  GVA_NX: 'advanced info: the linear address was execute-disabled',
  NMI_UNBLOCK_IRET: 'NMI unblocking due to IRET',
  SHADOW_STACK: 'shadow-stack access',
  ASYNC_TO_INSTR: 'asynchronous to instruction execution',
};

const PFERR_BIT_OF: Record<string, number> = PFERR_BITS;

/** One line per set error-code bit: `bit 33 GUEST_PAGE  <meaning>`. */
export function pferrBitLines(code: bigint): string[] {
  const names = describePferr(code);
  if (names.length === 0) return ['(no bits set: a read of a not-present page by a supervisor access)'];
  return names.map((n) => {
    const b = PFERR_BIT_OF[n];
    return b === undefined ? `${n.padEnd(22)} (undefined bit)` : `bit ${String(b).padStart(2)} ${n.padEnd(15)} ${PFERR_MEANING[n] ?? ''}`.trimEnd();
  });
}

/** One line per set qualification bit: `bit  8 GVA_TRANSLATED  <meaning>`. */
export function eptQualBitLines(q: bigint): string[] {
  const x = BigInt.asUintN(64, q);
  const out: string[] = [];
  for (let b = 0; b < 64; b++) {
    if (((x >> BigInt(b)) & 1n) === 0n) continue;
    const n = EPT_VIOLATION_BIT_NAMES[b];
    out.push(n === undefined ? `bit ${String(b).padStart(2)} (undefined bit)` : `bit ${String(b).padStart(2)} ${n.padEnd(15)} ${QUAL_MEANING[n] ?? ''}`.trimEnd());
  }
  return out.length === 0 ? ['(no bits set)'] : out;
}

function bitsSummary(names: string[]): string {
  return names.length === 0 ? '(none)' : names.join('|');
}

/** A fault from the walker: its error code (and EPT qualification) in words. */
export function describeFault(f: X86Exception, ept: boolean): string {
  const parts = [`error_code ${hex(f.error_code)} (${bitsSummary(describePferr(f.error_code))})`, `address ${hex(f.address)}`];
  if (ept && f.nested_page_fault) {
    const q = BigInt.asUintN(64, f.exit_qualification);
    const names: string[] = [];
    for (let b = 0; b < 64; b++) if (((q >> BigInt(b)) & 1n) !== 0n) names.push(EPT_VIOLATION_BIT_NAMES[b] ?? `BIT_${b}`);
    parts.push(`qualification ${hex(q)} (${bitsSummary(names)})`);
  }
  return parts.join(', ');
}

type EntryKind = '32' | '64' | 'ept';

function isPresent(kind: EntryKind, v: bigint): boolean {
  return kind === 'ept' ? (v & 7n) !== 0n : (v & 1n) !== 0n;
}

function isLeaf(kind: EntryKind, level: number, v: bigint): boolean {
  return level === 1 || (level > 1 && (v & (1n << 7n)) !== 0n && (kind !== '32' || level === 2));
}

function entryName(kind: EntryKind, level: number): string {
  // describeEntry prefixes the name; keep the decode's own first word.
  return describeEntry(kind, 0n, level).split(' ').slice(0, kind === 'ept' ? 2 : 1).join(' ');
}

/**
 * The rows of one walk. `nestedTdp`: the table pages went through L1's TDP (L2's own walk);
 * false for a walk of L1's TDP itself (its table GPAs are L1's, read as they are).
 */
function rows(kind: EntryKind, r: WalkResult, nestedTdp: boolean, ept: boolean): WalkViewRow[] {
  return r.levels.map((l: WalkLevel, i) => {
    const last = i === r.levels.length - 1;
    const name = entryName(kind, l.level);
    const nested = !nestedTdp
      ? 'identity (L1 GPA)'
      : l.real_pte_gpa === null
        ? `FAILED: ${!r.ok ? describeFault(r.fault, ept) : 'no translation'}`
        : `real ${hex(l.real_pte_gpa - (l.pte_gpa - l.table_gpa))}`;
    let verdict: string;
    if (l.pte === null) {
      verdict = l.real_pte_gpa === null ? 'not read: the table page does not translate (nested fault, GUEST_PAGE)' : 'not read: no memory behind the table (walk error)';
    } else if (!isPresent(kind, l.pte)) {
      verdict = 'not present';
    } else if (last && !r.ok && r.stage === 'guest') {
      verdict = `faults here: ${describeFault(r.fault, false)}`;
    } else if (last && !r.ok && !nestedTdp) {
      verdict = `faults here: ${describeFault(r.fault, ept)}`;
    } else if (isLeaf(kind, l.level, l.pte)) {
      verdict = last && !r.ok && r.stage === 'nested-final' ? 'leaf (its final GPA then fails to translate)' : 'leaf';
    } else {
      verdict = 'table: next level';
    }
    return {
      level: l.level, entry: name, table_gpa: hex(l.table_gpa), pte_gpa: hex(l.pte_gpa), nested,
      value: l.pte === null ? null : hex(l.pte), decoded: l.pte === null ? '-' : describeEntry(kind, l.pte, l.level), verdict,
    };
  });
}

function walkResult(r: WalkResult, ept: boolean, what: string): string {
  if (r.ok) return `${what} translates: GPA ${hex(r.gpa)} → L1 GPA ${hex(r.real_gpa)}`;
  if (r.stage === 'guest') return `${what} faults in L2's own tables: L2 #PF, ${describeFault(r.fault, false)}`;
  const stage = r.stage === 'nested-page' ? 'a paging-structure GPA (GUEST_PAGE)' : 'the final GPA (GUEST_FINAL)';
  return `${what} faults translating ${stage} through L1's TDP: ${describeFault(r.fault, ept)}`;
}

function svmExitLines(e: SvmExitInfo): string[] {
  const out = [`exit_code   ${hex(e.exit_code)} (${svmExitName(e.exit_code)})`];
  if (e.exit_code === 0x400n) {
    out.push(`exit_info_1 ${hex(e.exit_info_1)} (${bitsSummary(describePferr(e.exit_info_1))})`);
    out.push(...pferrBitLines(e.exit_info_1).map((x) => `  ${x}`));
    out.push(`exit_info_2 ${hex(e.exit_info_2)} (faulting guest-physical address)`);
  } else {
    out.push(`exit_info_1 ${hex(e.exit_info_1)}`, `exit_info_2 ${hex(e.exit_info_2)}`);
  }
  return out;
}

function vmxExitLines(e: VmxExitInfo): string[] {
  const out = [`reason ${e.reason} (${exitReasonName(e.reason)})`];
  if (e.reason === EXIT_REASON.EPT_VIOLATION) {
    out.push(`qualification ${hex(e.qual)}`);
    out.push(...eptQualBitLines(e.qual).map((x) => `  ${x}`));
  } else {
    out.push(`qualification ${hex(e.qual)}${e.reason === EXIT_REASON.EPT_MISCONFIG ? ' (EPT misconfiguration: no qualification)' : ''}`);
  }
  out.push(`guest-physical address ${hex(e.gpa)}`, `guest-linear address   ${hex(e.gla)}`);
  return out;
}

function prevRootLine(root: PrevRoot): string {
  return `eptp ${hex(root.eptp)} ${root.valid ? 'valid' : 'invalid'}, maps ${root.mapped.length ? root.mapped.map(hex).join(',') : 'nothing'}`;
}

function setupLines(s: NestedFaultScenario): string[] {
  const g = s.guest;
  const pae = (g.cr4 & CR4_PAE) !== 0n;
  const a = s.access;
  const kind = a.fetch ? 'fetch' : a.write ? 'write' : 'read';
  const out = [
    s.program
      ? `flavour ${s.flavour} (${s.flavour === 'svm' ? 'nested SVM, #NPF' : 'nested VMX, EPT violation'}), an L2 instruction stream at CPL ${g.cpl} (each access by the CPU, or by L0's emulator after an exit to L0)`
      : `flavour ${s.flavour} (${s.flavour === 'svm' ? 'nested SVM, #NPF' : 'nested VMX, EPT violation'}), performer ${s.performer} (${s.performer === 'hardware' ? 'the CPU walks, L0 reflects its exit' : 'L0\'s emulator walks and synthesizes the exit'})`,
    ...(s.program ? programSetupLines(s.flavour, s.program, s.mem) : [`access ${kind} of GVA ${hex(a.gva)} at CPL ${g.cpl}${a.implicit ? ' (implicit supervisor)' : ''}`]),
    `L2 paging cr0=${hex(g.cr0)} cr3=${hex(g.cr3)} cr4=${hex(g.cr4)} efer=${hex(g.efer)} rflags=${hex(g.rflags)} pkru=${hex(g.pkru)} maxphyaddr=${g.maxphyaddr}${pae && g.pdptrs.length > 0 ? ` pdptrs=[${g.pdptrs.map(hex).join(',')}]` : ''}`,
  ];
  const t = s.tdp;
  out.push(t.kind === 'npt'
    ? `L1 TDP npt ncr3=${hex(t.ncr3)} levels=${t.levels} nx=${t.nx} gmet=${t.gmet} maxphyaddr=${t.maxphyaddr}`
    : `L1 TDP ept eptp=${hex(t.eptp)} execonly=${t.execonly} mbec=${t.mbec} advanced_exit_info=${t.advanced_exit_info} maxphyaddr=${t.maxphyaddr}`);
  out.push(`L1 memory ${Object.keys(s.mem.words).length} word(s), ram_top ${hex(s.mem.ram_top)}`);
  for (const root of s.prev_roots ?? []) out.push(`L0 cached shadow-EPT root: ${prevRootLine(root)}`);
  return out;
}

export function buildWalkView(s: NestedFaultScenario, p: Profile): WalkView {
  const r = runNestedFault(s, p);
  const ept = s.tdp.kind === 'ept';
  const guestKind: EntryKind = (s.guest.cr4 & CR4_PAE) !== 0n ? '64' : '32';
  const tdpKind: EntryKind = ept ? 'ept' : '64';
  const walks: WalkViewSection[] = [];
  const paeNote = (s.guest.cr4 & CR4_PAE) !== 0n && (s.guest.efer & EFER_LMA) === 0n ? '; PAE: the PDPTE comes from the PDPTE registers, not read' : '';
  // Streams: the walk shown is the last one (the CPU's if the CPU made it, else the emulator's).
  const byCpu = s.program ? r.cpu_walk !== null : s.performer === 'hardware';
  if (byCpu) {
    const cpu = r.cpu_walk ?? r.walk;
    walks.push({ title: `L2 walk by the CPU (each table page through L1's TDP${paeNote})`, rows: rows(guestKind, cpu, true, ept), result: walkResult(cpu, ept, 'the CPU\'s walk') });
    if (r.hardware_svm || r.hardware_vmx) {
      walks.push({ title: `L0's walk of L1's ${ept ? 'EPT' : 'NPT'} for the GPA the CPU reported`, rows: rows(tdpKind, r.walk, false, ept), result: r.walk.ok ? `L0's walk translates it (${hex(r.walk.real_gpa)}): KVM retries the access, nothing is injected` : `L0's walk faults: ${describeFault(r.walk.fault, ept)}` });
    }
  } else {
    walks.push({ title: `L2 walk by L0's emulator (walk_addr_generic; each table page through L1's TDP${paeNote})`, rows: rows(guestKind, r.walk, true, ept), result: walkResult(r.walk, ept, 'the emulator\'s walk') });
    const w = r.walk;
    if (!w.ok && w.stage !== 'guest') {
      // The entries of L1's TDP behind the failed translation, re-read from the case's memory (the
      // walker result keeps only L2's levels). The fault shown is the walker's own.
      const a = { ...s.access, ...(r.fault_access ?? {}) };
      const acc = w.stage === 'nested-page'
        ? PFERR.WRITE | PFERR.USER | PFERR.GUEST_PAGE
        : (a.write ? PFERR.WRITE : 0n) | (a.fetch ? PFERR.FETCH : 0n) | (s.guest.cpl === 3 && !a.implicit ? PFERR.USER : 0n) | PFERR.GUEST_FINAL;
      const mem = { words: { ...s.mem.words }, ram_top: s.mem.ram_top };
      const n = translate_nested_gpa({ t: new Trace(), p, mem }, s.tdp, w.fault.address, acc, 0);
      walks.push({
        title: `L1's ${ept ? 'EPT' : 'NPT'} walk of the failed GPA ${hex(w.fault.address)} (${w.stage === 'nested-page' ? 'a paging-structure page' : 'the final page'})`,
        rows: rows(tdpKind, { ok: false, fault: w.fault, levels: n.levels, stage: w.stage }, false, ept),
        result: `nested fault: ${describeFault(w.fault, ept)}`,
      });
    }
  }

  let l0Exit: WalkViewExit;
  const stale = r.exit02_at_injection;
  if (s.program && r.injected_from_hardware === false && stale) {
    l0Exit = s.flavour === 'svm'
      ? { title: 'exit L0 took: the vmcb02 exit its emulator ran after (a synthesized #NPF must not read it)', lines: svmExitLines(stale.svm) }
      : { title: 'exit L0 took: the vmcs02 exit its emulator ran after (a synthesized EPT exit must not read it)', lines: vmxExitLines(stale.vmx) };
  } else if (byCpu) {
    if (r.hardware_svm) l0Exit = { title: 'exit L0 took: hardware #NPF (vmcb02)', lines: svmExitLines(r.hardware_svm) };
    else if (r.hardware_vmx) l0Exit = { title: 'exit L0 took: hardware EPT exit (vmcs02)', lines: vmxExitLines(r.hardware_vmx) };
    else l0Exit = { title: 'exit L0 took: none (the CPU\'s access did not fault in L1\'s TDP)', lines: [] };
  } else {
    l0Exit = s.flavour === 'svm'
      ? { title: 'exit L0 took: the stale vmcb02 exit its emulator runs after (a synthesized #NPF must not read it)', lines: svmExitLines(s.stale_svm) }
      : { title: 'exit L0 took: the stale vmcs02 exit its emulator runs after (a synthesized EPT exit must not read it)', lines: vmxExitLines(s.stale_vmx) };
  }

  let injected: WalkViewExit | null = null;
  if (r.injected_svm) injected = { title: 'exit injected into L1 (vmcb12, nested_svm_inject_npf_exit)', lines: svmExitLines(r.injected_svm) };
  else if (r.injected_vmx) injected = { title: 'exit injected into L1 (vmcs12, nested_ept_inject_page_fault)', lines: vmxExitLines(r.injected_vmx) };
  if (injected && r.prev_roots) injected.lines.push(...r.prev_roots.map((root) => `cached root after injection: ${prevRootLine(root)}`));
  if (!injected && r.l1_exit) injected = { title: 'exit reflected to L1 (L1 intercepts it)', lines: l1ExitLines(r.l1_exit) };

  const l2Fault = r.l2_fault
    ? `L2 #PF: error_code ${hex(r.l2_fault.error_code)} (${bitsSummary(describePferr(r.l2_fault.error_code))}), address ${hex(r.l2_fault.address)}`
    : null;
  return { setup: setupLines(s), walks, outcome: r.outcome, l2Fault, l0Exit, injected, steps: s.program ? stepLines(r.steps) : null };
}

function table(header: string[], body: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...body.map(line)];
}

/** The view as text, one section per walk, then the L0 exit and the injected exit. */
export function renderWalkView(v: WalkView): string[] {
  const out: string[] = [];
  if (v.steps) out.push('-- L2 instructions, as executed', ...v.steps, '');
  for (const w of v.walks) {
    out.push(`-- ${w.title}`);
    if (w.rows.length === 0) out.push('(no paging-structure entries read)');
    else {
      out.push(...table(['lvl', 'entry', 'table GPA', 'entry GPA', 'table page via TDP', 'value', 'decoded', 'verdict'],
        w.rows.map((r) => [String(r.level), r.entry, r.table_gpa, r.pte_gpa, r.nested, r.value ?? '-', r.decoded, r.verdict])));
    }
    out.push(`=> ${w.result}`);
    out.push('');
  }
  out.push(`outcome: ${v.outcome}`);
  if (v.l2Fault) out.push(v.l2Fault);
  out.push('');
  out.push(`-- ${v.l0Exit.title}`);
  out.push(...v.l0Exit.lines);
  out.push('');
  if (v.injected) {
    out.push(`-- ${v.injected.title}`);
    out.push(...v.injected.lines);
  } else {
    out.push('-- exit injected into L1: none');
  }
  return out;
}
