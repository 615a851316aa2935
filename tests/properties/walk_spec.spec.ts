import { describe, expect, it } from 'vitest';
import { EPTE, PTE64 } from '../../src/arch/paging/formats.ts';
import type { GuestPaging, NestedTdp, PhysMem } from '../../src/engine/mmu/types.ts';
import { buildGuestTables, buildTdp, eptpFor, identity2M, type Mapping } from '../../properties/mmu/_spec/build.ts';
import { DEVIATIONS } from '../../properties/mmu/_spec/deviations.ts';
import { RULES, applyAdUpdates, specWalk as realSpecWalk, type SpecAccess, type SpecWalk } from '../../properties/mmu/_spec/walk_spec.ts';

/** Every rule the hand-built cases make fire (checked at the end: each rule is exercised). */
const hits = new Set<string>();
const specWalk = (...a: Parameters<typeof realSpecWalk>): SpecWalk => {
  const r = realSpecWalk(...a);
  if (!r.ok) hits.add(r.rule);
  return r;
};
const setBits = (mem: PhysMem, pa: bigint | null, v: bigint, clear = 0n): void => {
  if (pa === null) throw new Error('no entry');
  const k = '0x' + (pa & ~7n).toString(16);
  mem.words[k] = ((mem.words[k] ?? 0n) & ~clear) | v;
};

const CR0 = { PE: 1n, WP: 1n << 16n, PG: 1n << 31n };
const CR4 = { PSE: 0x10n, PAE: 0x20n, LA57: 1n << 12n, SMEP: 1n << 20n, SMAP: 1n << 21n, PKE: 1n << 22n };
const EFER = { LME: 0x100n, LMA: 0x400n, NXE: 0x800n };
const AC = 1n << 18n;
const { P, RW, US, A, D, PS, NX } = PTE64;

const R: SpecAccess = { write: false, user: false, fetch: false, implicit: false };
const W: SpecAccess = { ...R, write: true };
const X: SpecAccess = { ...R, fetch: true };
const UR: SpecAccess = { ...R, user: true };
const UW: SpecAccess = { ...W, user: true };
const UX: SpecAccess = { ...X, user: true };

const newMem = (): PhysMem => ({ words: {}, ram_top: 0x1000_0000n });

function guest(cr3: bigint, fmt: '32' | 'pae' | 'lm4' | 'lm5', over: Partial<GuestPaging> = {}): GuestPaging {
  const base: GuestPaging = {
    cr0: CR0.PE | CR0.PG | CR0.WP, cr3, cr4: 0n, efer: 0n, pdptrs: [], cpl: 0, rflags: 2n, pkru: 0, pse36: true,
    maxphyaddr: 46,
  };
  if (fmt === 'pae') Object.assign(base, { cr4: CR4.PAE, efer: EFER.NXE });
  if (fmt === 'lm4' || fmt === 'lm5') Object.assign(base, { cr4: CR4.PAE | (fmt === 'lm5' ? CR4.LA57 : 0n), efer: EFER.LME | EFER.LMA | EFER.NXE });
  return { ...base, ...over };
}

function lm4(mappings: Mapping[], over: Partial<GuestPaging> = {}): { mem: PhysMem; g: GuestPaging } {
  const mem = newMem();
  const t = buildGuestTables(mem, 'lm4', mappings);
  return { mem, g: guest(t.root, 'lm4', over) };
}

function fault(w: SpecWalk): Exclude<SpecWalk, { ok: true }> {
  if (w.ok) throw new Error('expected a fault, got ' + JSON.stringify(w, (_, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)));
  return w;
}
function ok(w: SpecWalk): Extract<SpecWalk, { ok: true }> {
  if (!w.ok) throw new Error('expected success, got ' + JSON.stringify(w, (_, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v)));
  return w;
}
const pfCode = (w: SpecWalk): bigint => {
  const f = fault(w);
  if (f.kind !== 'pf') throw new Error('expected #PF, got ' + f.kind);
  return f.error_code;
};

const rule = (w: SpecWalk): string => (w.ok ? 'ok' : w.rule);

describe('walk_spec: guest paging without nested TDP', () => {
  it('should translate a 4-level 4K page and set A on every level, D on the leaf for a write', () => {
    const { mem, g } = lm4([{ from: 0x400000n, to: 0x800000n }]);
    const r = ok(specWalk(mem, g, null, 0x400123n, R));
    expect(r.gpa).toBe(0x800123n);
    expect(r.real_gpa).toBe(0x800123n);
    expect(r.page_size).toBe(0x1000n);
    expect(r.ad_updates.map((u) => [u.gpa, u.set])).toEqual([[0x100000n, A], [0x101000n, A], [0x102010n, A], [0x103000n, A]]);
    const w = ok(specWalk(mem, g, null, 0x400123n, W));
    expect(w.ad_updates.at(-1)).toEqual({ gpa: 0x103000n, set: A | D, width: 8, table: 'guest' });
    applyAdUpdates(mem, w.ad_updates);
    expect(ok(specWalk(mem, g, null, 0x400123n, W)).ad_updates).toEqual([]);
  });

  it('should translate 2M and 1G leaves with the offset bits', () => {
    const { mem, g } = lm4([
      { from: 0x4000_0000n, to: 0x60_0000n, size: '2M' },
      { from: 0x80_0000_0000n, to: 0x4000_0000n, size: '1G' },
    ]);
    expect(ok(specWalk(mem, g, null, 0x4012_3456n, R)).gpa).toBe(0x72_3456n);
    const r = ok(specWalk(mem, g, null, 0x80_2345_6789n, R));
    expect(r.gpa).toBe(0x6345_6789n);
    expect(r.page_size).toBe(1n << 30n);
    expect(rule(specWalk(mem, g, null, 0x80_2345_6789n, R, { gbpages: false }))).toBe('guest-rsvd-ps-1g');
  });

  it('should report not-present with P = 0 and the access bits', () => {
    const { mem, g } = lm4([{ from: 0x400000n, to: 0x800000n }]);
    expect(pfCode(specWalk(mem, g, null, 0x401000n, R))).toBe(0n);
    expect(pfCode(specWalk(mem, g, null, 0x401000n, UW))).toBe(0x6n);
    expect(pfCode(specWalk(mem, g, null, 0x401000n, UX))).toBe(0x14n);
    const f = fault(specWalk(mem, g, null, 0x7f_0000_0000n, R));
    expect(f.kind === 'pf' && f.address).toBe(0x7f_0000_0000n);
    expect(rule(f)).toBe('guest-not-present');
  });

  it('should report reserved bits with P | RSVD', () => {
    const { mem, g } = lm4([
      { from: 0x400000n, to: 0x800000n | (1n << 50n) },
      { from: 0x600000n, to: 0x800000n, flags: P | RW | NX },
      { from: 0x4000_0000n, to: 0x60_0000n | 0x2000n, size: '2M' },
    ]);
    expect(pfCode(specWalk(mem, g, null, 0x400000n, R))).toBe(0x9n);
    expect(rule(specWalk(mem, g, null, 0x400000n, R))).toBe('guest-rsvd-maxphyaddr');
    expect(pfCode(specWalk(mem, { ...g, efer: EFER.LME | EFER.LMA }, null, 0x600000n, W))).toBe(0xbn);
    expect(rule(specWalk(mem, g, null, 0x4000_0000n, R))).toBe('guest-rsvd-large-low');
    // PS in the PML4E.
    mem.words['0x100000'] = (mem.words['0x100000'] ?? 0n) | PS;
    expect(rule(specWalk(mem, g, null, 0x400000n, R))).toBe('guest-rsvd-ps-top');
  });

  it('should apply U/S, R/W with CR0.WP and XD', () => {
    const { mem, g } = lm4([
      { from: 0x400000n, to: 0x800000n, flags: P | RW },
      { from: 0x401000n, to: 0x801000n, flags: P | US },
      { from: 0x402000n, to: 0x802000n, flags: P | RW | US | NX },
    ]);
    expect(pfCode(specWalk(mem, g, null, 0x400000n, UR))).toBe(0x5n);
    expect(rule(specWalk(mem, g, null, 0x400000n, UR))).toBe('guest-user-supervisor-page');
    expect(pfCode(specWalk(mem, g, null, 0x401000n, UW))).toBe(0x7n);
    expect(pfCode(specWalk(mem, g, null, 0x401000n, W))).toBe(0x3n);
    ok(specWalk(mem, { ...g, cr0: g.cr0 & ~CR0.WP }, null, 0x401000n, W));
    expect(pfCode(specWalk(mem, g, null, 0x402000n, X))).toBe(0x11n);
    // XD is reserved without NXE; without it an NX-free page executes.
    ok(specWalk(mem, g, null, 0x401000n, UX));
  });

  it('should apply SMEP, SMAP (AC, implicit, CPL 3) and PKU', () => {
    const { mem, g } = lm4([
      { from: 0x401000n, to: 0x801000n, flags: P | RW | US },
      { from: 0x402000n, to: 0x802000n, flags: P | RW | US | (3n << 59n) },
    ], { cr4: CR4.PAE | CR4.SMEP | CR4.SMAP | CR4.PKE });
    expect(pfCode(specWalk(mem, g, null, 0x401000n, X))).toBe(0x11n);
    expect(rule(specWalk(mem, g, null, 0x401000n, X))).toBe('guest-smep');
    expect(pfCode(specWalk(mem, g, null, 0x401000n, R))).toBe(0x1n);
    ok(specWalk(mem, { ...g, rflags: 2n | AC }, null, 0x401000n, R));
    expect(rule(specWalk(mem, { ...g, rflags: 2n | AC }, null, 0x401000n, { ...R, implicit: true }))).toBe('guest-smap');
    expect(rule(specWalk(mem, { ...g, rflags: 2n | AC, cpl: 3 }, null, 0x401000n, R))).toBe('guest-smap');
    // PKRU key 3: AD = bit 6, WD = bit 7.
    expect(pfCode(specWalk(mem, { ...g, pkru: 1 << 6 }, null, 0x402000n, UR))).toBe(0x25n);
    ok(specWalk(mem, { ...g, pkru: 1 << 6 }, null, 0x402000n, UX));
    ok(specWalk(mem, { ...g, pkru: 1 << 7 }, null, 0x402000n, UR));
    expect(pfCode(specWalk(mem, { ...g, pkru: 1 << 7 }, null, 0x402000n, UW))).toBe(0x27n);
    expect(pfCode(specWalk(mem, { ...g, pkru: 1 << 7, rflags: 2n | AC }, null, 0x402000n, W))).toBe(0x23n);
    ok(specWalk(mem, { ...g, pkru: 1 << 7, rflags: 2n | AC, cr0: g.cr0 & ~CR0.WP }, null, 0x402000n, W));
    // Keys are a 4-level paging feature only when CR4.PKE is set.
    ok(specWalk(mem, { ...g, pkru: 1 << 6, cr4: CR4.PAE }, null, 0x402000n, UR));
  });

  it('should walk 5-level paging', () => {
    const mem = newMem();
    const t = buildGuestTables(mem, 'lm5', [{ from: 0x1_0000_0000_0000n + 0x5000n, to: 0x9000n }]);
    const g = guest(t.root, 'lm5');
    const r = ok(specWalk(mem, g, null, 0x1_0000_0000_5abcn, R));
    expect(r.gpa).toBe(0x9abcn);
    expect(r.ad_updates).toHaveLength(5);
    expect(pfCode(specWalk(mem, guest(t.root, 'lm4'), null, 0x1_0000_0000_5abcn, R))).toBe(0n);
  });

  it('should walk 32-bit paging: 4K, 4M with PSE-36, CR4.PSE = 0', () => {
    const mem = newMem();
    const t = buildGuestTables(mem, '32', [
      { from: 0x400000n, to: 0x801000n },
      { from: 0xc0000000n, to: 0x5_00c0_0000n, size: '4M' },
    ]);
    const g = guest(t.root, '32', { cr4: CR4.PSE, maxphyaddr: 40 });
    const r = ok(specWalk(mem, g, null, 0x400abcn, UW));
    expect(r.gpa).toBe(0x801abcn);
    expect(r.ad_updates).toEqual([
      { gpa: 0x100004n, set: A, width: 4, table: 'guest' },
      { gpa: 0x101000n, set: A | D, width: 4, table: 'guest' },
    ]);
    expect(ok(specWalk(mem, g, null, 0xc0123456n, R)).gpa).toBe(0x5_00d2_3456n);
    // MAXPHYADDR 36 leaves PDE bits 20:17 reserved; no PSE-36 leaves 21:13 reserved.
    expect(ok(specWalk(mem, { ...g, maxphyaddr: 36 }, null, 0xc0123456n, R)).gpa).toBe(0x5_00d2_3456n);
    mem.words['0x100c00'] = (mem.words['0x100c00'] ?? 0n) | (1n << 17n);
    expect(rule(specWalk(mem, { ...g, maxphyaddr: 36 }, null, 0xc0123456n, R))).toBe('guest-rsvd-pse-4m');
    expect(rule(specWalk(mem, { ...g, pse36: false }, null, 0xc0123456n, R))).toBe('guest-rsvd-pse-4m');
    // CR4.PSE = 0: bit 7 of a PDE is ignored, the PDE points at a page table.
    expect(rule(specWalk(mem, { ...g, cr4: 0n }, null, 0xc0123456n, R))).not.toBe('guest-rsvd-pse-4m');
    // No NX in 32-bit paging: a fetch reports I/D only with SMEP.
    expect(pfCode(specWalk(mem, g, null, 0x800000n, X))).toBe(0n);
    expect(pfCode(specWalk(mem, { ...g, cr4: CR4.PSE | CR4.SMEP }, null, 0x800000n, X))).toBe(0x10n);
  });

  it('should take PAE PDPTEs from the registers', () => {
    const mem = newMem();
    const t = buildGuestTables(mem, 'pae', [{ from: 0x8000_1000n, to: 0x3000n }, { from: 0x4020_0000n, to: 0x40_0000n, size: '2M' }]);
    const g = guest(t.root, 'pae', { pdptrs: t.pdptrs });
    const r = ok(specWalk(mem, g, null, 0x8000_1234n, R));
    expect(r.gpa).toBe(0x3234n);
    expect(r.ad_updates).toHaveLength(2);
    expect(ok(specWalk(mem, g, null, 0x4021_0000n, R)).gpa).toBe(0x41_0000n);
    expect(pfCode(specWalk(mem, g, null, 0xc000_0000n, W))).toBe(0x2n);
    expect(rule(specWalk(mem, { ...g, pdptrs: [0n, 0n, t.pdptrs[2] | 0x6n, 0n] }, null, 0x8000_1234n, R))).toBe('guest-rsvd-pdpte');
    // PAE PDE/PTE bits 62:52 are reserved (ignored in 4-level paging).
    mem.words['0x102008'] = (mem.words['0x102008'] ?? 0n) | (1n << 55n);
    expect(rule(specWalk(mem, g, null, 0x8000_1234n, R))).toBe('guest-rsvd-pae-high');
  });

  it('should treat paging off as identity', () => {
    const mem = newMem();
    const g = guest(0n, '32', { cr0: CR0.PE });
    expect(specWalk(mem, g, null, 0x1234n, W)).toEqual({ ok: true, gpa: 0x1234n, real_gpa: 0x1234n, page_size: 0n, ad_updates: [] });
  });
});

const L2_BYTES = 0x100_0000n; // L2 memory [0, 16M), guest tables at 0x100000
const FINAL_L1 = 0x300_0000n;

function nested(kind: 'npt' | 'ept', extra: Mapping[] = [], opts: { ad?: boolean; execonly?: boolean; mbec?: boolean; adv?: boolean } = {}) {
  const mem = newMem();
  const t = buildGuestTables(mem, 'lm4', [
    { from: 0x400000n, to: 0x800000n },
    { from: 0x401000n, to: 0x801000n, flags: P | RW | US | A | D },
    { from: 0x402000n, to: 0x802000n },
  ]);
  // TDP: the final page 0x800000 maps elsewhere; the rest of L2 memory 1:1 in 4K pages around the tables.
  const maps: Mapping[] = [...extra];
  const SZ = { '4K': 1n << 12n, '2M': 1n << 21n, '4M': 1n << 22n, '1G': 1n << 30n };
  const covered = (a: bigint): boolean => extra.some((m) => m.from <= a && a < m.from + SZ[m.size ?? '4K']);
  for (let a = 0x100000n; a < 0x110000n; a += 0x1000n) if (!covered(a)) maps.push({ from: a, to: a });
  if (!covered(0x800000n)) maps.push({ from: 0x800000n, to: FINAL_L1 });
  if (!covered(0x801000n)) maps.push({ from: 0x801000n, to: FINAL_L1 + 0x1000n });
  const tb = buildTdp(mem, kind, maps, { base: 0x400_0000n });
  const tdp: NestedTdp = kind === 'npt'
    ? { kind: 'npt', ncr3: tb.root, levels: 4, nx: true, gmet: false, maxphyaddr: 46 }
    : { kind: 'ept', eptp: eptpFor(tb.root, 4, opts.ad ?? false), execonly: opts.execonly ?? false, mbec: opts.mbec ?? false,
        advanced_exit_info: opts.adv ?? false, maxphyaddr: 46 };
  return { mem, g: guest(t.root, 'lm4'), tdp, tb };
}

describe('walk_spec: nested paging (NPT)', () => {
  it('should translate through the NPT and set nested A/D', () => {
    const { mem, g, tdp } = nested('npt');
    const r = ok(specWalk(mem, g, tdp, 0x400123n, W));
    expect(r.gpa).toBe(0x800123n);
    expect(r.real_gpa).toBe(FINAL_L1 + 0x123n);
    const tdpUpd = r.ad_updates.filter((u) => u.table === 'tdp');
    expect(tdpUpd.length).toBeGreaterThan(4);
    expect(tdpUpd.some((u) => u.set === (A | D))).toBe(true);
    expect(L2_BYTES).toBeGreaterThan(0n);
  });

  it('should fault in the page stage on an unmapped guest table, with the exact entry GPA', () => {
    const { mem, g, tdp } = nested('npt', [{ from: 0x103000n, to: 0x103000n, flags: 0n }]);
    const f = fault(specWalk(mem, g, tdp, 0x400123n, R));
    expect(f).toMatchObject({ kind: 'npf', stage: 'page', error_code: 0x2_0000_0004n, gpa: 0x103000n, rule: 'npt-not-present' });
  });

  it('should write-check a guest table only when A must be set', () => {
    const { mem, g, tdp } = nested('npt', [{ from: 0x103000n, to: 0x103000n, flags: P | US }]);
    // The PTE for 0x401000 already has A (and D): a read-only nested mapping of its table is enough.
    ok(specWalk(mem, g, tdp, 0x401000n, W));
    // The PTE for 0x400000 has A = 0: setting it is a write the nested tables refuse.
    const f = fault(specWalk(mem, g, tdp, 0x400000n, R));
    expect(f).toMatchObject({ kind: 'npf', stage: 'page', error_code: 0x2_0000_0007n, gpa: 0x103000n, rule: 'npt-write-ro' });
  });

  it('should order A/D writes after the walk and the permission check', () => {
    // The PD page is read-only in the NPT and the PDE's A flag is clear.
    const { mem, g, tdp } = nested('npt', [{ from: 0x102000n, to: 0x102000n, flags: P | US }]);
    // A not-present PTE further down is found first: a guest #PF, not a nested write fault.
    expect(fault(specWalk(mem, g, tdp, 0x403000n, W))).toMatchObject({ kind: 'pf', error_code: 0x2n });
    // So is a permission fault at the leaf.
    expect(fault(specWalk(mem, g, tdp, 0x400000n, { ...X, fetch: true }))).toMatchObject({ kind: 'npf', stage: 'page', gpa: 0x102010n });
    const smep = { ...g, cr4: g.cr4 | CR4.SMEP };
    expect(fault(specWalk(mem, smep, tdp, 0x400000n, X))).toMatchObject({ kind: 'pf', error_code: 0x11n });
  });

  it('should read unbacked guest tables as all-ones', () => {
    const { mem, g, tdp } = nested('npt', [{ from: 0x103000n, to: 0x2000_0000n }]);
    expect(fault(specWalk(mem, g, tdp, 0x400000n, R))).toMatchObject({ kind: 'pf', error_code: 0x9n, rule: 'guest-rsvd-maxphyaddr' });
  });

  it('should fault in the final stage', () => {
    const { mem, g, tdp } = nested('npt', [{ from: 0x800000n, to: FINAL_L1, flags: P | US | NX }]);
    expect(fault(specWalk(mem, g, tdp, 0x400010n, W))).toMatchObject({ kind: 'npf', stage: 'final', error_code: 0x1_0000_0007n, gpa: 0x800010n });
    expect(fault(specWalk(mem, g, tdp, 0x400010n, X))).toMatchObject({ kind: 'npf', stage: 'final', error_code: 0x1_0000_0015n, rule: 'npt-fetch-nx' });
    const { mem: m2, g: g2, tdp: t2 } = nested('npt', [{ from: 0x802000n, to: FINAL_L1, flags: P | RW }]);
    expect(fault(specWalk(m2, g2, t2, 0x402008n, R))).toMatchObject({ kind: 'npf', stage: 'final', error_code: 0x1_0000_0005n, gpa: 0x802008n, rule: 'npt-user-supervisor-page' });
    expect(fault(specWalk(m2, g2, t2, 0x403000n, R))).toMatchObject({ kind: 'pf', error_code: 0n });
  });

  it('should report reserved bits in a nested entry with RSVD', () => {
    const { mem, g, tdp } = nested('npt', [{ from: 0x802000n, to: FINAL_L1 | (1n << 49n) }]);
    expect(fault(specWalk(mem, g, tdp, 0x402000n, R))).toMatchObject({ kind: 'npf', stage: 'final', error_code: 0x1_0000_000dn, rule: 'npt-rsvd-maxphyaddr' });
  });

  it('should read PAE guest PDPTEs through the NPT', () => {
    const mem = newMem();
    const t = buildGuestTables(mem, 'pae', [{ from: 0x1000n, to: 0x5000n }]);
    const tb = buildTdp(mem, 'npt', identity2M(0x40_0000n), { base: 0x400_0000n });
    const tdp: NestedTdp = { kind: 'npt', ncr3: tb.root, levels: 4, nx: true, gmet: false, maxphyaddr: 46 };
    const g = guest(t.root, 'pae', { pdptrs: [0n, 0n, 0n, 0n] });
    // The (stale) PDPTE registers say not present; the AMD walk reads memory.
    expect(ok(specWalk(mem, g, tdp, 0x1234n, R)).gpa).toBe(0x5234n);
    expect(pfCode(specWalk(mem, g, null, 0x1234n, R))).toBe(0n);
    const tb2 = buildTdp(mem, 'npt', [{ from: 0x200000n, to: 0x200000n, size: '2M' }], { base: 0x500_0000n });
    const f = fault(specWalk(mem, g, { ...tdp, ncr3: tb2.root }, 0x1234n, R));
    expect(f).toMatchObject({ kind: 'npf', stage: 'page', gpa: 0x100000n, error_code: 0x2_0000_0004n });
  });
});

describe('walk_spec: nested EPT', () => {
  it('should translate through the EPT, with EPT A/D only when EPTP bit 6 is set', () => {
    const { mem, g, tdp } = nested('ept');
    const r = ok(specWalk(mem, g, tdp, 0x400123n, W));
    expect(r.real_gpa).toBe(FINAL_L1 + 0x123n);
    expect(r.ad_updates.every((u) => u.table === 'guest')).toBe(true);
    const ad = nested('ept', [], { ad: true });
    const r2 = ok(specWalk(ad.mem, ad.g, ad.tdp, 0x400123n, R));
    const tdpUpd = r2.ad_updates.filter((u) => u.table === 'tdp');
    // Guest table pages are written (EPT A/D: every paging-structure access is a write): D on their EPT leaves.
    expect(tdpUpd.filter((u) => (u.set & EPTE.D) !== 0n)).toHaveLength(4);
  });

  it('should build the violation qualification for the final access', () => {
    const { mem, g, tdp } = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.R | (6n << 3n) }]);
    expect(fault(specWalk(mem, g, tdp, 0x400010n, W))).toMatchObject({ kind: 'ept-violation', stage: 'final', qual: 0x18an, qual_adv: 0n, gpa: 0x800010n, rule: 'ept-write' });
    ok(specWalk(mem, g, tdp, 0x400010n, R));
    const none = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: 0n }], { adv: true });
    expect(fault(specWalk(none.mem, none.g, none.tdp, 0x400010n, UR))).toMatchObject({ qual: 0x181n, qual_adv: 0x600n, rule: 'ept-not-present' });
  });

  it('should fault in the page stage with bits 0|1 under EPT A/D, bit 0 alone without', () => {
    const { mem, g, tdp } = nested('ept', [{ from: 0x102000n, to: 0x102000n, flags: EPTE.R | (6n << 3n) }]);
    // EPT A/D off: reading the PD is fine, setting its A flag is a write.
    expect(fault(specWalk(mem, g, tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-violation', stage: 'page', qual: 0x8bn, gpa: 0x102010n });
    const ad = nested('ept', [{ from: 0x102000n, to: 0x102000n, flags: EPTE.R | (6n << 3n) }], { ad: true });
    expect(fault(specWalk(ad.mem, ad.g, ad.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-violation', stage: 'page', qual: 0x8bn });
    const np = nested('ept', [{ from: 0x101000n, to: 0x101000n, flags: 0n }]);
    expect(fault(specWalk(np.mem, np.g, np.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-violation', stage: 'page', qual: 0x81n, gpa: 0x101000n });
  });

  it('should allow execute-only entries only with the capability', () => {
    const xo = [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.X | (6n << 3n) }];
    const a = nested('ept', xo, { execonly: true });
    ok(specWalk(a.mem, a.g, a.tdp, 0x400000n, X));
    expect(fault(specWalk(a.mem, a.g, a.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-violation', qual: 0x1a1n, rule: 'ept-read' });
    const b = nested('ept', xo, { execonly: false });
    expect(fault(specWalk(b.mem, b.g, b.tdp, 0x400000n, X))).toMatchObject({ kind: 'ept-misconfig', stage: 'final', gpa: 0x800000n, rule: 'ept-misconfig-exec-only' });
  });

  it('should report misconfigurations', () => {
    const wo = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.W | (6n << 3n) }]);
    expect(rule(specWalk(wo.mem, wo.g, wo.tdp, 0x400000n, R))).toBe('ept-misconfig-write-no-read');
    const mt = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: 7n | (2n << 3n) }]);
    expect(fault(specWalk(mt.mem, mt.g, mt.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-misconfig', rule: 'ept-misconfig-memtype' });
    const top = nested('ept');
    const pml4 = top.tdp.kind === 'ept' ? top.tdp.eptp & ~0xfffn : 0n;
    top.mem.words['0x' + pml4.toString(16)] = (top.mem.words['0x' + pml4.toString(16)] ?? 0n) | (1n << 4n);
    expect(fault(specWalk(top.mem, top.g, top.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-misconfig', stage: 'page', rule: 'ept-misconfig-top-ps' });
  });

  it('should use bit 10 for user-mode linear addresses under MBEC', () => {
    const m = [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.R | EPTE.X | (6n << 3n) }];
    const a = nested('ept', m, { mbec: true });
    // Guest leaf for 0x400000 is a user page (P|RW|US): the fetch needs bit 10.
    expect(fault(specWalk(a.mem, a.g, a.tdp, 0x400000n, X))).toMatchObject({ kind: 'ept-violation', qual: 0x1acn, rule: 'ept-fetch-user' });
    const nonleaf = EPTE.R | EPTE.W | EPTE.X | EPTE.UX;
    const b = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.R | EPTE.UX | (6n << 3n), nonleaf }], { mbec: true });
    ok(specWalk(b.mem, b.g, b.tdp, 0x400000n, UX));
    // Supervisor-mode linear address (guest leaf U/S = 0) needs bit 2, even for a CPL-3 style access flag.
    const c = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.R | EPTE.UX | (6n << 3n), nonleaf }], { mbec: true });
    c.mem.words['0x103000'] = (c.mem.words['0x103000'] ?? 0n) & ~US;
    expect(fault(specWalk(c.mem, c.g, c.tdp, 0x400000n, X))).toMatchObject({ kind: 'ept-violation', qual: 0x1ccn, rule: 'ept-fetch' });
    // An MBEC entry with only bit 10 set is present (execute-only rules apply to it).
    const d = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.UX | (6n << 3n), nonleaf }], { mbec: true, execonly: true });
    ok(specWalk(d.mem, d.g, d.tdp, 0x400000n, UX));
    const e = nested('ept', [{ from: 0x800000n, to: FINAL_L1, flags: EPTE.UX | (6n << 3n), nonleaf }], { mbec: true });
    expect(rule(specWalk(e.mem, e.g, e.tdp, 0x400000n, UX))).toBe('ept-misconfig-exec-only');
  });

  it('should translate with paging off', () => {
    const { mem, tdp } = nested('ept');
    const g = guest(0n, '32', { cr0: CR0.PE });
    expect(ok(specWalk(mem, g, tdp, 0x800004n, R)).real_gpa).toBe(FINAL_L1 + 4n);
    expect(fault(specWalk(mem, g, tdp, 0x900004n, W))).toMatchObject({ kind: 'ept-violation', stage: 'final', qual: 0x182n, gpa: 0x900004n });
  });
});

describe('walk_spec: tables', () => {
  it('should have unique rule ids and documented deviations', () => {
    const ids = RULES.map((r) => r.rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(30);
    const dids = DEVIATIONS.map((d) => d.id);
    expect(new Set(dids).size).toBe(dids.length);
    for (const d of DEVIATIONS) expect(d.arch.length * d.kvm.length * d.source.length).toBeGreaterThan(0);
  });
});

describe('walk_spec: nested reserved bits and GMET', () => {
  it('should check NPT reserved bits per level', () => {
    // The PML4E / PDPTE are shared with the guest-table mappings (page stage); the PD / PT entries are not.
    const cases: [number, bigint, string, 'page' | 'final', Partial<Extract<NestedTdp, { kind: 'npt' }>>?][] = [
      [4, PS, 'npt-rsvd-ps-top', 'page'],
      [1, NX, 'npt-rsvd-nx', 'final', { nx: false }],
      [2, 1n << 47n, 'npt-rsvd-maxphyaddr', 'final'],
    ];
    for (const [level, bit, id, stage, over] of cases) {
      const n = nested('npt');
      setBits(n.mem, n.tb.entryAddr(0x800000n, level), bit);
      const ec = (stage === 'page' ? 0x2_0000_0000n : 0x1_0000_0000n) | 0xdn;
      expect(fault(specWalk(n.mem, n.g, { ...n.tdp, ...over } as NestedTdp, 0x400000n, R)), id).toMatchObject({ kind: 'npf', stage, rule: id, error_code: ec });
    }
    const big = nested('npt', [{ from: 0x800000n, to: FINAL_L1 | 0x2000n, size: '2M' }]);
    expect(rule(specWalk(big.mem, big.g, big.tdp, 0x400000n, R))).toBe('npt-rsvd-large-low');
  });

  it('should walk legacy-PAE nested tables (nested PDPEs in memory)', () => {
    const mem = newMem();
    const t = buildGuestTables(mem, 'lm4', [{ from: 0x400000n, to: 0x800000n }]);
    // Hand-made 3-level NPT: PDPT at 0x500000 (index 0), PD at 0x501000 mapping [0, 16M) in 2M pages.
    mem.words['0x500000'] = 0x501000n | P;
    for (let i = 0n; i < 8n; i++) mem.words['0x' + (0x501000n + 8n * i).toString(16)] = (i << 21n) | P | RW | US | PS;
    const tdp: NestedTdp = { kind: 'npt', ncr3: 0x500000n, levels: 3, nx: true, gmet: false, maxphyaddr: 36 };
    const g = guest(t.root, 'lm4');
    expect(ok(specWalk(mem, g, tdp, 0x400123n, R)).real_gpa).toBe(0x800123n);
    mem.words['0x500000'] = 0x501000n | P | 0x2n;
    expect(rule(specWalk(mem, g, tdp, 0x400123n, R))).toBe('npt-rsvd-pdpte');
    mem.words['0x500000'] = 0x501000n | P;
    mem.words['0x501000'] = (mem.words['0x501000'] ?? 0n) | (1n << 60n);
    expect(fault(specWalk(mem, g, tdp, 0x400123n, R))).toMatchObject({ kind: 'npf', stage: 'page', rule: 'npt-rsvd-pae-high', error_code: 0x2_0000_000dn });
  });

  it('should apply GMET to supervisor fetches only', () => {
    const n = nested('npt');
    const tdp = { ...n.tdp, gmet: true } as NestedTdp;
    ok(specWalk(n.mem, n.g, tdp, 0x400000n, UX));
    expect(fault(specWalk(n.mem, n.g, tdp, 0x400000n, X))).toMatchObject({ kind: 'npf', stage: 'final', error_code: 0x1_0000_0011n, rule: 'npt-gmet' });
    ok(specWalk(n.mem, n.g, tdp, 0x400000n, R));
  });

  it('should check EPT reserved bits per level', () => {
    const a = nested('ept');
    setBits(a.mem, a.tb.entryAddr(0x800000n, 1), 1n << 47n);
    expect(rule(specWalk(a.mem, a.g, a.tdp, 0x400000n, R))).toBe('ept-misconfig-maxphyaddr');
    const b = nested('ept');
    setBits(b.mem, b.tb.entryAddr(0x800000n, 2), 0x8n);
    expect(rule(specWalk(b.mem, b.g, b.tdp, 0x400000n, R))).toBe('ept-misconfig-nonleaf-rsvd');
    const c = nested('ept', [{ from: 0x800000n, to: FINAL_L1 & ~0x1fffffn, size: '2M', flags: 7n | (6n << 3n) }]);
    ok(specWalk(c.mem, c.g, c.tdp, 0x400000n, R));
    expect(rule(specWalk(c.mem, c.g, c.tdp, 0x400000n, R, { ept2m: false }))).toBe('ept-misconfig-large-unsupported');
    setBits(c.mem, c.tb.entryAddr(0x800000n, 2), 0x1000n);
    expect(fault(specWalk(c.mem, c.g, c.tdp, 0x400000n, R))).toMatchObject({ kind: 'ept-misconfig', stage: 'final', rule: 'ept-misconfig-large-low' });
  });

  it('should have exercised every rule', () => {
    const missing = RULES.map((r) => r.rule.id).filter((id) => !hits.has(id));
    expect(missing).toEqual([]);
  });
});

describe('walk_spec: random tables', () => {
  it('should answer every case with a self-consistent outcome', async () => {
    const fc = (await import('fast-check')).default;
    const accArb = fc.record({ write: fc.boolean(), user: fc.boolean(), fetch: fc.boolean(), implicit: fc.boolean() });
    fc.assert(fc.property(
      fc.constantFrom('npt', 'ept', 'none'), fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 4 }),
      accArb, fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean(),
      (kind, flips, acc, page, ad, mbec) => {
        const n = nested(kind === 'none' ? 'npt' : kind, [], { ad, mbec, execonly: true, adv: true });
        const keys = Object.keys(n.mem.words).sort();
        for (const [i, v] of flips) {
          const k = keys[i % keys.length];
          n.mem.words[k] = (n.mem.words[k] ?? 0n) ^ (v & 0xfff0_0000_0000_0ffen);
        }
        const tdp = kind === 'none' ? null : n.tdp;
        const w = specWalk(n.mem, n.g, tdp, 0x400000n + BigInt(page) * 0x1000n + 0x10n, acc);
        if (w.ok) {
          for (const u of w.ad_updates) {
            const allowed = u.table === 'guest' ? A | D : kind === 'ept' ? EPTE.A | EPTE.D : A | D;
            expect(u.set & ~allowed).toBe(0n);
            expect(u.set).not.toBe(0n);
          }
          return;
        }
        if (w.kind === 'pf') {
          if (w.error_code & 8n) expect(w.error_code & 1n).toBe(1n);
          expect(w.error_code >> 6n).toBe(0n);
        } else if (w.kind === 'npf') {
          expect(w.error_code >> 32n).toBe(w.stage === 'page' ? 2n : 1n);
          expect(w.error_code & 4n).toBe(4n);
        } else if (w.kind === 'ept-violation') {
          expect((w.qual >> 8n) & 1n).toBe(w.stage === 'final' ? 1n : 0n);
          expect(w.qual & 7n).not.toBe(0n);
          expect(w.qual >> 9n).toBe(0n);
        }
      },
    ), { numRuns: 400, seed: 1 });
  });
});
