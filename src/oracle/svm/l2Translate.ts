// What L2's first memory accesses do under L1's NPT, for states whose nCR3 selects an NPT variant
// with a hole (image.ts NPT_VARIANTS): the CPU delivers an injected event (reading its IDT entry)
// and fetches L2's first instruction; a fault in L1's NPT reaches L0 as a hardware #NPF, which KVM
// reflects to L1 (nested_svm_inject_npf_exit with the hardware's exit information), and a fault in
// L2's own tables is a #PF that vmcb12 intercepts. The engine's nested-fault path
// (runNestedFault, performer 'hardware') computes both; this file only says which accesses the
// harness's L2 makes, in order, and over which memory.

import type { OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import { EFER, EVTINJ, MISC_CTL } from '../../arch/svm/defs.ts';
import { runNestedFault, type MmuAccess, type NestedFaultScenario } from '../../engine/mmu/nested_fault.ts';
import { memWordKey, type PhysMem } from '../../engine/mmu/types.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { SvmRunResult } from '../../engine/svm/run.ts';
import { GUEST_SNIPPET_NAMES, NPT_VARIANT_NAMES, nptVariantRoot, snippetIdt, staticImage } from '../image.ts';
import { LAYOUT, RAM_BYTES_GPA_TOP } from '../layout.ts';
import type { SvmVerdict } from './verdict.ts';

let cachedMem: PhysMem | null = null;

/** Address bits 12..31 of an entry: every table and page the harness uses lies below 4 GiB (a variant's reserved bits stay out of the match). */
const ADDR_MASK = 0xfffff000n;

/** Pages L2's first accesses can reach: its tables, code, GDT, IDTs and the page below its stack top. */
function reachablePages(): Set<number> {
  const pages = [LAYOUT.GUEST_CODE, LAYOUT.GUEST_PD32, LAYOUT.GUEST_PT32, LAYOUT.GUEST_GDT, LAYOUT.GUEST_STACK - 0x1000];
  for (let k = 0; k < 6; k++) pages.push(LAYOUT.HOST_PML4 + k * 0x1000);
  for (const name of GUEST_SNIPPET_NAMES) pages.push(snippetIdt(name, true), snippetIdt(name, false));
  return new Set(pages);
}

/**
 * The harness's paging structures as the engine's PhysMem (the walker reads nothing else): host
 * tables, L2's 32-bit tables and the NPT variants, with only the leaf entries that map a page L2
 * can reach, which keeps the walker's per-run copy of memory small.
 */
function harnessMem(): PhysMem {
  if (cachedMem) return cachedMem;
  const reach = reachablePages();
  const tablePages = new Set([...reach].filter((p) => p >= LAYOUT.HOST_PML4 && p < LAYOUT.HOST_PML4 + 0x6000));
  tablePages.add(LAYOUT.GUEST_PD32).add(LAYOUT.GUEST_PT32);
  for (const v of NPT_VARIANT_NAMES) for (let k = 0; k < 4; k++) tablePages.add(nptVariantRoot(v) + k * 0x1000);
  const mapsReachable = (entry: bigint, big: boolean, legacy: boolean): boolean => {
    if (legacy) return reach.has(Number(entry & 0xfffff000n));
    const base = Number(entry & ADDR_MASK);
    if (!big) return reach.has(base);
    return [...reach].some((p) => p >= base && p < base + 0x200000);
  };
  const words: Record<string, bigint> = {};
  for (const seg of staticImage()) {
    for (let page = 0; page < seg.bytes.length; page += 0x1000) {
      const gpa = seg.gpa + page;
      if (!tablePages.has(gpa)) continue;
      const dv = new DataView(seg.bytes.buffer, seg.bytes.byteOffset + page, Math.min(0x1000, seg.bytes.length - page));
      const legacy = gpa === LAYOUT.GUEST_PD32 || gpa === LAYOUT.GUEST_PT32;
      for (let off = 0; off + 8 <= dv.byteLength; off += 8) {
        const v = dv.getBigUint64(off, true);
        if (v === 0n) continue;
        // 32-bit tables hold two 4-byte entries per word; keep the word if either maps something reachable.
        const keep = legacy
          ? gpa === LAYOUT.GUEST_PD32 || mapsReachable(v & 0xffffffffn, false, true) || mapsReachable(v >> 32n, false, true)
          : tablePages.has(Number(v & ADDR_MASK)) || mapsReachable(v, (v & 0x80n) !== 0n, false);
        if (keep) words[memWordKey(BigInt(gpa + off))] = v;
      }
    }
  }
  cachedMem = { words, ram_top: RAM_BYTES_GPA_TOP };
  return cachedMem;
}

/** The fault verdict of L2's first accesses, or null when they translate (the engine's own verdict stands). */
export function l2FirstAccessesVerdict(c: OracleSvmCase, r: SvmRunResult, profile: Profile): SvmVerdict | null {
  const v = c.scenario.vmcb12;
  const l1 = c.scenario.l1;
  if (!c.choice.npt || !NPT_VARIANT_NAMES.includes(c.choice.npt as never)) return null;
  if ((v.control.misc_ctl & MISC_CTL.NP_ENABLE) === 0n || !l1.guest.npt) return null;
  const s = v.save;
  const base: Omit<NestedFaultScenario, 'access'> = {
    arch: 'mmu',
    flavour: 'svm',
    mem: harnessMem(),
    guest: { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, pdptrs: [], cpl: s.cpl, rflags: s.rflags, pkru: 0, pse36: false, maxphyaddr: l1.maxphyaddr },
    // Nested NPT uses L1's paging mode (the harness: 4-level long mode) and L1's EFER.NXE.
    tdp: { kind: 'npt', ncr3: v.control.nested_cr3, levels: 4, nx: (l1.efer & EFER.NX) !== 0n, gmet: false, maxphyaddr: l1.maxphyaddr },
    performer: 'hardware',
    stale_svm: { exit_code: 0n, exit_info_1: 0n, exit_info_2: 0n },
    stale_vmx: { reason: 0, qual: 0n, gpa: 0n, gla: 0n },
  };
  const accesses: { access: MmuAccess; during: bigint }[] = [];
  // The event as vmcb02 carried it into L2 (KVM's sanitised copy), delivered before the first fetch.
  const ev = r.entry_vmcb02?.control.event_inj ?? 0;
  const evErr = r.entry_vmcb02?.control.event_inj_err ?? 0;
  const long = (s.efer & EFER.LMA) !== 0n;
  if (ev & EVTINJ.VALID) {
    const gate = s.idtr.base + BigInt((ev & 0xff) * (long ? 16 : 8));
    accesses.push({ access: { gva: gate, write: false, fetch: false, implicit: true }, during: BigInt(ev >>> 0) | (BigInt(evErr >>> 0) << 32n) });
  }
  accesses.push({ access: { gva: s.rip, write: false, fetch: true, implicit: false }, during: 0n });
  for (const { access, during } of accesses) {
    const nf = runNestedFault({ ...base, access }, profile);
    if (nf.injected_svm) return { kind: 'exit', exit_code: nf.injected_svm.exit_code, exit_info_1: nf.injected_svm.exit_info_1, exit_info_2: nf.injected_svm.exit_info_2, exit_int_info: during };
    if (nf.l2_fault) return { kind: 'exit', exit_code: 0x4en, exit_info_1: nf.l2_fault.error_code, exit_info_2: nf.l2_fault.address, exit_int_info: during };
  }
  return null;
}
