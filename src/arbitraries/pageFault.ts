// pageFaultCase(): one fault through KVM's MMU page-fault path (issue #6). The valid base is a
// shared read of ordinary RAM on a default VM, taken through SVM's #NPF and mapped at once; the
// choices then move it toward the boundaries the "Page fault and MMIO cleanups" series is about:
// VM type (software-protected, SNP), private gfns and private accesses, the memslot hit (guest_memfd,
// read-only, KVM-internal, being deleted, none = emulated MMIO), MMIO SPTEs and caching, guest mode,
// async PF, poisoned pages, and error codes real hardware would not produce (upper bits of a legacy
// #PF code, synthetic bits in an #NPF code). Shrinking heads back to the base, field by field.

import fc from 'fast-check';
import type { Memslot, PageFaultScenario } from '../engine/mmu/page_fault/scenario.ts';
import { PFERR } from '../engine/mmu/types.ts';
import type { PageFaultCase } from '../../properties/types.ts';

export type PfTarget = 'ram' | 'gmem' | 'readonly' | 'noslot' | 'apic-access' | 'tss' | 'identity-map' | 'invalid-slot';

export interface PageFaultChoice {
  vm_type: PageFaultScenario['vm_type'];
  entry: PageFaultScenario['entry'];
  target: PfTarget;
  access: 'read' | 'write' | 'fetch';
  /** The hardware found a present (protection) fault rather than a missing translation. */
  present: boolean;
  /** A reserved-bit fault: what an access through an MMIO SPTE gives. */
  rsvd: boolean;
  /** SNP: the access had the C-bit (GUEST_ENC). */
  encrypted: boolean;
  /** The gfn's attribute is private. */
  gfnPrivate: boolean;
  /** Error-code bits hardware never sets: bits 63:32 of a legacy #PF code, or KVM's synthetic bits in an #NPF code. */
  impossibleBits: 'none' | 'upper' | 'implicit' | 'private';
  mmio_caching: boolean;
  /** The gfn already has an MMIO SPTE. */
  mmioSpte: boolean;
  /** The gfn is beyond kvm_mmu_max_gfn (no MMIO SPTE can encode it). */
  beyondMaxGfn: boolean;
  guest_mode: boolean;
  apicv_active: boolean;
  backing: Memslot['backing'];
  swapped_out: boolean;
  async_pf: boolean;
  asyncPending: boolean;
  invalidation_race: boolean;
  /** Page offset of the faulting address. */
  offset: number;
}

export const DEFAULT_PAGE_FAULT_CHOICE: PageFaultChoice = {
  vm_type: 'default', entry: 'npf', target: 'ram', access: 'read', present: false, rsvd: false, encrypted: false, gfnPrivate: false,
  impossibleBits: 'none', mmio_caching: true, mmioSpte: false, beyondMaxGfn: false, guest_mode: false, apicv_active: true,
  backing: 'ok', swapped_out: false, async_pf: false, asyncPending: false, invalidation_race: false, offset: 0,
};

/** The gfn each target falls in (one page of each slot is used). */
const TARGET_GFN: Record<PfTarget, bigint> = {
  ram: 0x10n, gmem: 0x1010n, readonly: 0x2010n, noslot: 0x80000n, 'apic-access': 0xfee00n, tss: 0xfffbdn, 'identity-map': 0xfffbcn, 'invalid-slot': 0x3010n,
};

/** The choice when the fault targets `t` (its slot takes the choice's backing), else null. */
function hit(c: PageFaultChoice, t: PfTarget): PageFaultChoice | null {
  return c.target === t ? c : null;
}

function slot(id: number, base_gfn: bigint, npages: bigint, guest_memfd: boolean, readonly: boolean, internal: Memslot['internal'], invalid: boolean, target: PageFaultChoice | null): Memslot {
  return { id, base_gfn, npages, guest_memfd, readonly, internal, invalid, backing: target ? target.backing : 'ok', swapped_out: target ? target.swapped_out : false };
}

// Built for every generated case, so slot by slot without closures or spreads.
function memslots(c: PageFaultChoice, vm_type: PageFaultScenario['vm_type']): Memslot[] {
  return [
    slot(0, 0x0n, 0x1000n, false, false, null, false, hit(c, 'ram')),
    // guest_memfd slots exist only in VMs with private memory.
    slot(1, 0x1000n, 0x1000n, vm_type !== 'default', false, null, false, hit(c, 'gmem')),
    slot(2, 0x2000n, 0x1000n, false, true, null, false, hit(c, 'readonly')),
    slot(3, 0x3000n, 0x1000n, false, false, null, true, hit(c, 'invalid-slot')),
    // KVM's internal slots (ids past the user slots): APIC-access page, TSS, identity-map page table.
    slot(509, 0xfee00n, 1n, false, false, 'apic-access', false, hit(c, 'apic-access')),
    slot(510, 0xfffbdn, 3n, false, false, 'tss', false, hit(c, 'tss')),
    slot(511, 0xfffbcn, 1n, false, false, 'identity-map', false, hit(c, 'identity-map')),
  ];
}

export function buildPageFaultScenario(c: PageFaultChoice): PageFaultScenario {
  // Shadow paging (the #PF intercept) exists only for default VMs; SNP is AMD-only (#NPF).
  const vm_type = c.entry === 'pf-intercept' ? 'default' : c.entry === 'ept-violation' && c.vm_type === 'snp' ? 'sw-protected' : c.vm_type;
  const gfn = TARGET_GFN[c.target];
  const acc = c.access === 'write' ? PFERR.WRITE : c.access === 'fetch' ? PFERR.FETCH : 0n;
  let hw = acc | (c.present ? PFERR.PRESENT : 0n) | (c.rsvd ? PFERR.RSVD | PFERR.PRESENT : 0n);
  if (c.entry === 'pf-intercept') {
    hw |= PFERR.USER;
    if (c.impossibleBits !== 'none') hw |= 0xdead0000n << 32n;
  } else if (c.entry === 'npf') {
    // A fault on the GPA itself: the final translation (APM §15.25.6 EXITINFO1 bit 32), user (NPT walks are user).
    hw |= PFERR.GUEST_FINAL | PFERR.USER;
    if (vm_type === 'snp' && c.encrypted) hw |= PFERR.GUEST_ENC;
    if (c.impossibleBits === 'implicit') hw |= PFERR.IMPLICIT_ACCESS;
    if (c.impossibleBits === 'private' || c.impossibleBits === 'upper') hw |= PFERR.PRIVATE_ACCESS;
  }
  // EPT violation qualification (SDM Table 28-7): access bits, EPTE permissions when present, GVA valid + translated.
  const qual = (c.access === 'write' ? 2n : c.access === 'fetch' ? 4n : 1n) | (c.present ? 0x8n : 0n) | 0x180n;
  return {
    arch: 'mmu-pf',
    vm_type,
    entry: c.entry,
    hw_error_code: c.entry === 'ept-violation' ? 0n : hw,
    ept_qual: c.entry === 'ept-violation' ? qual : 0n,
    address: (gfn << 12n) | BigInt(c.offset & 0xfff),
    memslots: memslots(c, vm_type),
    private_gfns: c.gfnPrivate && vm_type !== 'default' ? [gfn] : [],
    mmio_caching: c.mmio_caching,
    // Only a gfn without a memslot can have an MMIO SPTE (creating a slot bumps the MMIO generation).
    mmio_sptes: c.mmioSpte && c.target === 'noslot' ? [gfn] : [],
    max_gfn: c.beyondMaxGfn ? gfn - 1n : (1n << 40n) - 1n,
    guest_mode: c.guest_mode,
    apicv_active: c.apicv_active,
    async_pf: c.async_pf,
    async_pf_pending: c.asyncPending ? [gfn] : [],
    invalidation_race: c.invalidation_race,
  };
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') for (const v of Object.values(Object.freeze(x))) deepFreeze(v);
  return x;
}

/**
 * The valid base, built once and shared by every case (frozen: nothing may write to it; shrinking
 * and the corpus copy cases with structuredClone).
 */
const PAGE_FAULT_BASE: PageFaultScenario = deepFreeze(buildPageFaultScenario(DEFAULT_PAGE_FAULT_CHOICE));

/** The case; `mutations` stays empty: the field diff against `base` says what differs, also after shrinking. */
export function buildPageFaultCase(c: PageFaultChoice): PageFaultCase & { choice: PageFaultChoice } {
  return { scenario: buildPageFaultScenario(c), base: PAGE_FAULT_BASE, mutations: [], choice: c };
}

/** Each field keeps its default most of the time, so a case sits a few choices from the base. */
function near<T>(dflt: T, ...others: T[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: fc.constant(dflt), weight: 2 }, { arbitrary: fc.constantFrom(...others), weight: 1 });
}

export function pageFaultCase(): fc.Arbitrary<PageFaultCase> {
  const d = DEFAULT_PAGE_FAULT_CHOICE;
  const choice: fc.Arbitrary<PageFaultChoice> = fc.record({
    vm_type: fc.constantFrom('default' as const, 'sw-protected' as const, 'snp' as const),
    entry: fc.constantFrom('npf' as const, 'ept-violation' as const, 'pf-intercept' as const),
    target: fc.constantFrom<PfTarget>('ram', 'gmem', 'noslot', 'readonly', 'apic-access', 'tss', 'identity-map', 'invalid-slot'),
    access: fc.constantFrom('read' as const, 'write' as const, 'fetch' as const),
    present: fc.boolean(),
    rsvd: near(false, true),
    encrypted: fc.boolean(),
    gfnPrivate: fc.boolean(),
    impossibleBits: near<PageFaultChoice['impossibleBits']>('none', 'upper', 'implicit', 'private'),
    mmio_caching: near(true, false),
    mmioSpte: near(false, true),
    beyondMaxGfn: near(false, true),
    guest_mode: fc.boolean(),
    apicv_active: near(true, false),
    backing: near<Memslot['backing']>('ok', 'hwpoison', 'error'),
    swapped_out: near(false, true),
    async_pf: fc.boolean(),
    asyncPending: near(false, true),
    invalidation_race: near(false, true),
    offset: fc.oneof(fc.constant(d.offset), fc.nat({ max: 0xfff })),
  });
  return choice.map(
    (c) => buildPageFaultCase(c),
    (v) => {
      const c = v as PageFaultCase & { choice?: PageFaultChoice };
      if (!c || typeof c !== 'object' || !c.choice) throw new Error('pageFaultCase: not a generated case');
      return c.choice;
    },
  );
}
