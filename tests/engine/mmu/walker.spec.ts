// Directed tests of the L2 page walker and the nested NPT/EPT walk: page tables are built by hand in
// L1 memory, one scenario per format, fault kind and historical bug; plus a never-throws property.

import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CR0, CR4, EFER, RFLAGS } from '../../../src/arch/svm/defs.ts';
import { ACC_EXEC, ACC_READ, ACC_USER, ACC_WRITE } from '../../../src/engine/mmu/permission.ts';
import { PFERR, readPhys32, readPhys64, writePhys32, writePhys64, type GuestPaging, type NestedTdp, type PhysMem } from '../../../src/engine/mmu/types.ts';
import { MMU_WALK_CHECK_IDS, translate_nested_gpa, walk_addr_generic, type WalkResult } from '../../../src/engine/mmu/walker.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';
import { Trace } from '../../../src/engine/trace.ts';

const KVM = getProfile('kvm-next') as Profile;
function without(id: string, p: Profile = KVM): Profile {
  return { ...p, patches: new Set([...p.patches].filter((x) => x !== id)) };
}

const P = 1n, W = 2n, U = 4n, A = 0x20n, D = 0x40n, PS = 0x80n, NX = 1n << 63n;
const EPT_R = 1n, EPT_W = 2n, EPT_X = 4n, EPT_WB = 6n << 3n, EPT_A = 1n << 8n, EPT_D = 1n << 9n, EPT_UX = 1n << 10n;
/** L2 GPA g lives at L1 GPA g + OFF when a nested TDP is in use. */
const OFF = 0x800000n;
const STAGE_FINAL = PFERR.GUEST_FINAL;
const STAGE_PAGE = PFERR.GUEST_PAGE;

type GuestKind = 'pt64' | 'pt32';

/** L1 memory, an allocator for L2 table pages (L2 GPAs) and one for TDP table pages (L1 GPAs). */
class Env {
  mem: PhysMem = { words: {}, ram_top: 0x2000000n };
  private l2next = 0x10000n;
  private l1next = 0x1800000n;
  tdp: NestedTdp | null = null;
  tdpLevels = 4;

  constructor(readonly nested: 'ept' | 'npt' | null = null, opts: { eptAd?: boolean; execonly?: boolean; mbec?: boolean; npt_levels?: 3 | 4 | 5 } = {}) {
    if (nested === 'ept') {
      const root = this.allocL1();
      this.tdp = { kind: 'ept', eptp: root | (3n << 3n) | 6n | (opts.eptAd === false ? 0n : 1n << 6n), execonly: opts.execonly ?? false, mbec: opts.mbec ?? false, advanced_exit_info: false, maxphyaddr: 46 };
    } else if (nested === 'npt') {
      const levels = opts.npt_levels ?? 4;
      this.tdpLevels = levels;
      const root = this.allocL1();
      this.tdp = { kind: 'npt', ncr3: root, levels, nx: true, gmet: false, maxphyaddr: 46 };
    }
  }

  get off(): bigint {
    return this.nested ? OFF : 0n;
  }

  allocL1(): bigint {
    const a = this.l1next;
    this.l1next += 0x1000n;
    return a;
  }

  /** A fresh L2 page for L2 tables, mapped (RWX, 4K) through the nested TDP if any. */
  allocL2(): bigint {
    const a = this.l2next;
    this.l2next += 0x1000n;
    this.mapTdp(a);
    return a;
  }

  w64(l2gpa: bigint, v: bigint): void {
    writePhys64(this.mem, l2gpa + this.off, v);
  }
  r64(l2gpa: bigint): bigint {
    return readPhys64(this.mem, l2gpa + this.off) ?? -1n;
  }
  w32(l2gpa: bigint, v: bigint): void {
    writePhys32(this.mem, l2gpa + this.off, Number(v));
  }
  r32(l2gpa: bigint): bigint {
    return BigInt(readPhys32(this.mem, l2gpa + this.off) ?? -1);
  }

  /** Maps L2 GPA page `l2` → L1 `l2 + OFF` in the nested TDP (4K leaf). Returns the leaf entry's L1 GPA. */
  mapTdp(l2: bigint, leafBits?: bigint): bigint {
    if (!this.tdp) return -1n;
    if (this.tdp.kind === 'ept') {
      const leaf = (l2 & ~0xfffn) + OFF | (leafBits ?? EPT_R | EPT_W | EPT_X | EPT_WB);
      // Under MBEC user-exec is ANDed over the walk like X: tables grant it.
      return this.mapRaw(this.tdp.eptp & ~0xfffn, 4, l2, leaf, 1, EPT_R | EPT_W | EPT_X | (this.tdp.mbec ? EPT_UX : 0n));
    }
    const leaf = (l2 & ~0xfffn) + OFF | (leafBits ?? P | W | U);
    if (this.tdp.levels === 3) {
      // PAE NPT: PDPT in nCR3's page, entries at nCR3 + 8*i.
      const pdpt = this.tdp.ncr3 & ~0xfffn;
      const i = (l2 >> 30n) & 3n;
      let pde = readPhys64(this.mem, pdpt + 8n * i) ?? 0n;
      if ((pde & 1n) === 0n) {
        pde = this.allocL1() | P;
        writePhys64(this.mem, pdpt + 8n * i, pde);
      }
      return this.mapRaw(pde & ~0xfffn, 2, l2, leaf, 1, P | W | U);
    }
    return this.mapRaw(this.tdp.ncr3 & ~0xfffn, this.tdp.levels, l2, leaf, 1, P | W | U);
  }

  /** L1-physical table builder (for the TDP): returns the leaf's L1 GPA. */
  private mapRaw(root: bigint, top: number, va: bigint, leaf: bigint, leafLevel: number, tableBits: bigint): bigint {
    let table = root;
    for (let level = top; ; level--) {
      const idx = (va >> BigInt(12 + 9 * (level - 1))) & 511n;
      const at = table + idx * 8n;
      if (level === leafLevel) {
        writePhys64(this.mem, at, leaf);
        return at;
      }
      let e = readPhys64(this.mem, at) ?? 0n;
      if ((e & 7n) === 0n) {
        e = this.allocL1() | tableBits;
        writePhys64(this.mem, at, e);
      }
      table = e & 0x000ffffffffff000n;
    }
  }

  /**
   * Maps GVA → L2 GPA in L2's own tables rooted at L2 GPA `root` (top level `top`), with a leaf at
   * `leafLevel` (PS added above level 1). Returns the L2 GPA of every entry, top first.
   */
  map(kind: GuestKind, root: bigint, top: number, va: bigint, pa: bigint, leafLevel: number, leafFlags: bigint, tableFlags: bigint = P | W | U): bigint[] {
    const bits = kind === 'pt32' ? 10 : 9;
    const size = kind === 'pt32' ? 4n : 8n;
    const mask = kind === 'pt32' ? 0xfffff000n : 0x000ffffffffff000n;
    const out: bigint[] = [];
    let table = root;
    for (let level = top; ; level--) {
      const idx = (va >> BigInt(12 + bits * (level - 1))) & ((1n << BigInt(bits)) - 1n);
      const at = table + idx * size;
      out.push(at);
      if (level === leafLevel) {
        const v = pa | leafFlags | (level > 1 ? PS : 0n);
        if (kind === 'pt32') this.w32(at, v);
        else this.w64(at, v);
        return out;
      }
      let e = kind === 'pt32' ? this.r32(at) : this.r64(at);
      if ((e & 1n) === 0n) {
        e = this.allocL2() | tableFlags;
        if (kind === 'pt32') this.w32(at, e);
        else this.w64(at, e);
      }
      table = e & mask;
    }
  }
}

function guest(over: Partial<GuestPaging> = {}): GuestPaging {
  return {
    cr0: CR0.PG | CR0.PE | CR0.WP, cr3: 0n, cr4: CR4.PAE, efer: EFER.LME | EFER.LMA | EFER.NX, pdptrs: [], cpl: 0,
    rflags: RFLAGS.FIXED_1, pkru: 0, pse36: false, maxphyaddr: 46, ...over,
  };
}

function walk(env: Env, g: GuestPaging, gva: bigint, access: bigint, p: Profile = KVM, t = new Trace()): WalkResult {
  return walk_addr_generic({ t, p, mem: env.mem }, g, env.tdp, gva, access);
}

function fail(r: WalkResult) {
  if (r.ok) throw new Error('expected a fault, walk succeeded');
  return r;
}
function okr(r: WalkResult) {
  if (!r.ok) throw new Error(`expected success, got fault ec=${r.fault.error_code.toString(16)} stage=${r.stage}`);
  return r;
}

/** A 4-level (or 5-level) L2 with one mapping; returns env, guest, entry GPAs. */
function long4(opts: { nested?: 'ept' | 'npt' | null; level?: number; flags?: bigint; tableFlags?: bigint; la57?: boolean; va?: bigint; pa?: bigint; eptAd?: boolean; execonly?: boolean; mbec?: boolean } = {}) {
  const env = new Env(opts.nested ?? null, { eptAd: opts.eptAd, execonly: opts.execonly, mbec: opts.mbec });
  const top = opts.la57 ? 5 : 4;
  const root = env.allocL2();
  const va = opts.va ?? 0x7f12_3456_7000n;
  const lvl = opts.level ?? 1;
  const pa = opts.pa ?? (lvl === 3 ? 0x40000000n : lvl === 2 ? 0x200000n * 3n : 0x345000n);
  const entries = env.map('pt64', root, top, va, pa, lvl, opts.flags ?? P | W | U, opts.tableFlags);
  const g = guest({ cr3: root, cr4: CR4.PAE | (opts.la57 ? CR4.LA57 : 0n) });
  return { env, g, va, pa, entries, root };
}

describe('walk_addr_generic: success paths', () => {
  it('4-level 4K: GPA keeps the page offset, one walk_level event per level', () => {
    const { env, g, va, pa } = long4();
    const t = new Trace();
    const r = okr(walk(env, g, va + 0x123n, 0n, KVM, t));
    expect(r.gpa).toBe(pa + 0x123n);
    expect(r.real_gpa).toBe(r.gpa);
    expect(r.levels.map((l) => l.level)).toEqual([4, 3, 2, 1]);
    expect(t.events.filter((e) => e.ev === 'walk_level')).toHaveLength(4);
    expect(r.pte_access & (ACC_READ | ACC_USER | ACC_EXEC)).toBe(ACC_READ | ACC_USER | ACC_EXEC);
  });

  it('4-level 2M and 1G leaves take the offset bits from the GVA', () => {
    const two = long4({ level: 2, va: 0x4000_0000n });
    expect(okr(walk(two.env, two.g, 0x4000_0000n + 0x1a_b123n, 0n)).gpa).toBe(two.pa + 0x1a_b123n);
    const one = long4({ level: 3, va: 0x80_0000_0000n });
    const r = okr(walk(one.env, one.g, 0x80_0000_0000n + 0x2345_6789n, 0n));
    expect(r.gpa).toBe(one.pa + 0x2345_6789n);
    expect(r.levels).toHaveLength(2);
  });

  it('5-level paging with CR4.LA57 walks five levels', () => {
    const { env, g, va, pa } = long4({ la57: true, va: 0x00ab_cdef_1234_5000n });
    const r = okr(walk(env, g, va + 8n, 0n));
    expect(r.gpa).toBe(pa + 8n);
    expect(r.levels.map((l) => l.level)).toEqual([5, 4, 3, 2, 1]);
  });

  it('32-bit paging: 4K, 4M with CR4.PSE, PSE-36 high bits, PS ignored without CR4.PSE', () => {
    const env = new Env();
    const root = env.allocL2();
    env.map('pt32', root, 2, 0x0040_3000n, 0x0012_3000n, 1, P | W | U);
    env.map('pt32', root, 2, 0x8040_0000n, 0x0180_0000n | (0x5n << 13n), 2, P | W | U);
    const g = guest({ cr3: root, cr4: CR4.PSE, efer: 0n, pse36: true });
    expect(okr(walk(env, g, 0x0040_3abcn, 0n)).gpa).toBe(0x0012_3abcn);
    // PDE bits 16:13 = 5 → PA 35:32 = 5.
    expect(okr(walk(env, g, 0x8040_0000n + 0x12_3456n, 0n)).gpa).toBe(0x5_0000_0000n + 0x0180_0000n + 0x12_3456n);
    // Without PSE-36, PDE bits 21:13 are reserved.
    expect(fail(walk(env, { ...g, pse36: false }, 0x8040_0000n, 0n)).fault.error_code).toBe(PFERR.RSVD | PFERR.PRESENT);
    // Without CR4.PSE the PDE's frame is read as a page table (here: empty) ⇒ not present at level 1.
    const r = fail(walk(env, { ...g, cr4: 0n }, 0x8040_0000n, 0n));
    expect(r.levels.map((l) => l.level)).toEqual([2, 1]);
    expect(r.fault.error_code).toBe(0n);
  });

  it('PAE: first level from the PDPTE registers (never from memory), 4K and 2M', () => {
    const env = new Env();
    const pd = env.allocL2();
    env.map('pt64', pd, 2, 0x4000_5000n, 0x77000n, 1, P | W | U);
    env.map('pt64', pd, 2, 0x4060_0000n, 0xa00000n, 2, P | W | U);
    const g = guest({ cr3: 0xdead_0000n, cr4: CR4.PAE, efer: EFER.NX, pdptrs: [0n, pd | P, 0n, 0n] });
    const r = okr(walk(env, g, 0x4000_5010n, 0n));
    expect(r.gpa).toBe(0x77010n);
    expect(r.levels.map((l) => l.level)).toEqual([2, 1]);
    expect(okr(walk(env, g, 0x4060_0000n + 0x1234n, 0n)).gpa).toBe(0xa01234n);
    // PDPTE 0 not present ⇒ #PF with only the access bits.
    const f = fail(walk(env, g, 0x1000n, PFERR.WRITE | PFERR.USER));
    expect(f.stage).toBe('guest');
    expect(f.fault.error_code).toBe(PFERR.WRITE | PFERR.USER);
    expect(f.fault.address).toBe(0x1000n);
  });

  it('CR0.PG=0: GVA = GPA, only the final nested translation runs', () => {
    const env = new Env('ept');
    env.mapTdp(0x5000n);
    const r = okr(walk(env, guest({ cr0: CR0.PE, efer: 0n, cr4: 0n }), 0x5123n, 0n));
    expect(r.real_gpa).toBe(0x5123n + OFF);
  });
});

describe('walk_addr_generic: L2 #PF', () => {
  it('not present at level 4 and at level 1: error code = access W/U bits, address = GVA', () => {
    const { env, g, va, entries } = long4();
    const f1 = fail(walk(env, g, va ^ (1n << 39n), PFERR.WRITE));
    expect(f1.fault).toMatchObject({ vector: 14, error_code: PFERR.WRITE, nested_page_fault: false, address: va ^ (1n << 39n) });
    expect(f1.levels).toHaveLength(1);
    env.w64(entries[3], 0n);
    const t = new Trace();
    const f2 = fail(walk(env, g, va, PFERR.USER, KVM, t));
    expect(f2.fault.error_code).toBe(PFERR.USER);
    expect(t.failedChecks()).toEqual(['walk-not-present']);
  });

  it('reserved bits: above MAXPHYADDR (PML4E), PS in a PML4E, 2M leaf bit 13, NX without EFER.NXE, 32-bit PSE bit 21', () => {
    const rsvd = PFERR.RSVD | PFERR.PRESENT;
    let s = long4();
    s.env.w64(s.entries[0], s.env.r64(s.entries[0]) | (1n << 47n));
    expect(fail(walk(s.env, s.g, s.va, 0n)).fault.error_code).toBe(rsvd);
    s = long4();
    s.env.w64(s.entries[0], s.env.r64(s.entries[0]) | PS);
    expect(fail(walk(s.env, s.g, s.va, PFERR.WRITE)).fault.error_code).toBe(rsvd | PFERR.WRITE);
    s = long4({ level: 2, va: 0x4000_0000n });
    s.env.w64(s.entries[2], s.env.r64(s.entries[2]) | (1n << 13n));
    const t = new Trace();
    const f = fail(walk(s.env, s.g, s.va, 0n, KVM, t));
    expect(f.fault.error_code).toBe(rsvd);
    expect(f.levels.map((l) => l.level)).toEqual([4, 3, 2]);
    expect(t.failedChecks()).toEqual(['walk-rsvd']);
    s = long4({ flags: P | W | U | NX });
    expect(fail(walk(s.env, { ...s.g, efer: EFER.LME | EFER.LMA }, s.va, 0n)).fault.error_code).toBe(rsvd);
    expect(okr(walk(s.env, s.g, s.va, 0n)).pte_access & ACC_EXEC).toBe(0);
    const env = new Env();
    const root = env.allocL2();
    env.map('pt32', root, 2, 0x8000_0000n, 0x0180_0000n | (1n << 21n), 2, P | W);
    expect(fail(walk(env, guest({ cr3: root, cr4: CR4.PSE, efer: 0n }), 0x8000_0000n, 0n)).fault.error_code).toBe(rsvd);
  });

  it('write to a read-only page: faults for supervisor with CR0.WP, allowed without; user always faults', () => {
    const s = long4({ flags: P | U });
    expect(fail(walk(s.env, s.g, s.va, PFERR.WRITE)).fault.error_code).toBe(PFERR.PRESENT | PFERR.WRITE);
    expect(okr(walk(s.env, { ...s.g, cr0: CR0.PG | CR0.PE }, s.va, PFERR.WRITE)).gpa).toBe(s.pa);
    const f = fail(walk(s.env, { ...s.g, cr0: CR0.PG | CR0.PE }, s.va, PFERR.WRITE | PFERR.USER));
    expect(f.fault.error_code).toBe(PFERR.PRESENT | PFERR.WRITE | PFERR.USER);
    // R/W is ANDed over the walk: a read-only PDE makes the writable leaf read-only.
    const s2 = long4({ tableFlags: P | U });
    expect(fail(walk(s2.env, s2.g, s2.va, PFERR.WRITE)).fault.error_code).toBe(PFERR.PRESENT | PFERR.WRITE);
  });

  it('U/S: a user access to a supervisor page faults, also when only a table entry is supervisor', () => {
    const s = long4({ flags: P | W });
    expect(fail(walk(s.env, s.g, s.va, PFERR.USER)).fault.error_code).toBe(PFERR.PRESENT | PFERR.USER);
    expect(okr(walk(s.env, s.g, s.va, 0n)).pte_access & ACC_USER).toBe(0);
    const s2 = long4({ tableFlags: P | W });
    const t = new Trace();
    expect(fail(walk(s2.env, s2.g, s2.va, PFERR.USER, KVM, t)).fault.error_code).toBe(PFERR.PRESENT | PFERR.USER);
    expect(t.failedChecks()).toEqual(['walk-permission']);
  });

  it('NX: a fetch from an NX page faults with FETCH; reads are fine', () => {
    const s = long4({ flags: P | W | NX });
    expect(fail(walk(s.env, s.g, s.va, PFERR.FETCH)).fault.error_code).toBe(PFERR.PRESENT | PFERR.FETCH);
    expect(okr(walk(s.env, s.g, s.va, 0n)).gpa).toBe(s.pa);
    // Without NXE and SMEP the error code never reports FETCH (not-present case).
    const env = new Env();
    const root = env.allocL2();
    const f = fail(walk(env, guest({ cr3: root, cr4: 0n, efer: 0n }), 0x1000n, PFERR.FETCH));
    expect(f.fault.error_code).toBe(0n);
  });

  it('SMEP: a supervisor fetch from a user page faults only with CR4.SMEP', () => {
    const s = long4({ flags: P | U });
    expect(okr(walk(s.env, s.g, s.va, PFERR.FETCH)).gpa).toBe(s.pa);
    const f = fail(walk(s.env, { ...s.g, cr4: s.g.cr4 | CR4.SMEP }, s.va, PFERR.FETCH));
    expect(f.fault.error_code).toBe(PFERR.PRESENT | PFERR.FETCH);
    expect(okr(walk(s.env, { ...s.g, cr4: s.g.cr4 | CR4.SMEP }, s.va, PFERR.FETCH | PFERR.USER)).gpa).toBe(s.pa);
  });

  it('SMAP: supervisor data access to a user page faults unless EFLAGS.AC, and always for implicit accesses', () => {
    const s = long4({ flags: P | W | U });
    const g = { ...s.g, cr4: s.g.cr4 | CR4.SMAP };
    expect(fail(walk(s.env, g, s.va, 0n)).fault.error_code).toBe(PFERR.PRESENT);
    expect(fail(walk(s.env, g, s.va, PFERR.WRITE)).fault.error_code).toBe(PFERR.PRESENT | PFERR.WRITE);
    const ac = { ...g, rflags: g.rflags | RFLAGS.AC };
    expect(okr(walk(s.env, ac, s.va, PFERR.WRITE)).gpa).toBe(s.pa);
    const f = fail(walk(s.env, ac, s.va, PFERR.IMPLICIT_ACCESS));
    expect(f.fault.error_code).toBe(PFERR.PRESENT);
    // User accesses are not SMAP's business; supervisor pages neither.
    expect(okr(walk(s.env, g, s.va, PFERR.USER)).gpa).toBe(s.pa);
    const k = long4({ flags: P | W });
    expect(okr(walk(k.env, { ...k.g, cr4: k.g.cr4 | CR4.SMAP }, k.va, 0n)).gpa).toBe(k.pa);
  });

  it('PKU: AD blocks data reads of user pages, WD writes (supervisor only with CR0.WP); fetches and PKE=0 unaffected', () => {
    const s = long4({ flags: P | W | U | (3n << 59n) });
    const g = { ...s.g, cr4: s.g.cr4 | CR4.PKE };
    const ad = 1 << 6; // key 3 AD
    const wd = 2 << 6; // key 3 WD
    expect(fail(walk(s.env, { ...g, pkru: ad }, s.va, PFERR.USER)).fault.error_code).toBe(PFERR.PRESENT | PFERR.PK | PFERR.USER);
    expect(fail(walk(s.env, { ...g, pkru: ad }, s.va, 0n)).fault.error_code).toBe(PFERR.PRESENT | PFERR.PK);
    expect(okr(walk(s.env, { ...g, pkru: ad }, s.va, PFERR.FETCH | PFERR.USER)).gpa).toBe(s.pa);
    expect(okr(walk(s.env, { ...g, pkru: wd }, s.va, PFERR.USER)).gpa).toBe(s.pa);
    expect(fail(walk(s.env, { ...g, pkru: wd }, s.va, PFERR.USER | PFERR.WRITE)).fault.error_code).toBe(PFERR.PRESENT | PFERR.PK | PFERR.WRITE | PFERR.USER);
    expect(fail(walk(s.env, { ...g, pkru: wd }, s.va, PFERR.WRITE)).fault.error_code).toBe(PFERR.PRESENT | PFERR.PK | PFERR.WRITE);
    expect(okr(walk(s.env, { ...g, pkru: wd, cr0: CR0.PG | CR0.PE }, s.va, PFERR.WRITE)).gpa).toBe(s.pa);
    expect(okr(walk(s.env, { ...g, pkru: 0x55555554 & ~ad }, s.va, PFERR.USER)).gpa).toBe(s.pa);
    expect(okr(walk(s.env, { ...s.g, pkru: ad }, s.va, PFERR.USER)).gpa).toBe(s.pa);
    // Keys apply to user pages only.
    const k = long4({ flags: P | W | (3n << 59n) });
    expect(okr(walk(k.env, { ...k.g, cr4: k.g.cr4 | CR4.PKE, pkru: ad }, k.va, 0n)).gpa).toBe(k.pa);
  });
});

describe('walk_addr_generic: accessed / dirty bits', () => {
  it('a read sets A on every level, no D; W is withheld from a clean leaf; a write sets D on the leaf', () => {
    const { env, g, va, entries } = long4();
    const t = new Trace();
    const r = okr(walk(env, g, va, 0n, KVM, t));
    for (const e of entries) expect(env.r64(e) & (A | D)).toBe(A);
    expect(r.pte_access & ACC_WRITE).toBe(0);
    expect(t.events.filter((e) => e.ev === 'walk_set_ad')).toHaveLength(4);
    const w = okr(walk(env, g, va, PFERR.WRITE));
    expect(w.pte_access & ACC_WRITE).toBe(ACC_WRITE);
    expect(env.r64(entries[3]) & D).toBe(D);
    expect(env.r64(entries[2]) & D).toBe(0n);
    // Now dirty: a read keeps W and writes nothing.
    const t2 = new Trace();
    expect(okr(walk(env, g, va, 0n, KVM, t2)).pte_access & ACC_WRITE).toBe(ACC_WRITE);
    expect(t2.has('walk_set_ad')).toBe(false);
  });

  it('no A/D update when the walk faults', () => {
    const { env, g, va, entries } = long4({ flags: P });
    fail(walk(env, g, va, PFERR.WRITE | PFERR.USER));
    for (const e of entries) expect(env.r64(e) & A).toBe(0n);
  });

  it('32-bit entries: A/D written into the right half of the word', () => {
    const env = new Env();
    const root = env.allocL2();
    const [pde, pte] = env.map('pt32', root, 2, 0x0040_5000n, 0x0012_3000n, 1, P | W);
    const neighbour = pte ^ 4n;
    env.w32(neighbour, 0xabcd_e000n | P);
    okr(walk(env, guest({ cr3: root, cr4: 0n, efer: 0n }), 0x0040_5000n, PFERR.WRITE));
    expect(env.r32(pde) & (A | D)).toBe(A);
    expect(env.r32(pte) & (A | D)).toBe(A | D);
    expect(env.r32(neighbour)).toBe(0xabcd_e000n | P);
  });

  it('A/D of L2 entries are written at their real (L1) GPA', () => {
    const { env, g, va, pa, entries } = long4({ nested: 'npt' });
    env.mapTdp(pa);
    okr(walk(env, g, va, 0n));
    expect(readPhys64(env.mem, entries[3] + OFF)! & A).toBe(A);
    expect(readPhys64(env.mem, entries[3])).toBe(0n);
  });
});

describe('nested TDP: translation and faults', () => {
  it('EPT: every table and the final GPA are translated; EPT A/D set with EPTP bit 6 (table accesses are writes)', () => {
    const s = long4({ nested: 'ept' });
    const leaf = s.env.mapTdp(s.pa);
    const r = okr(walk(s.env, s.g, s.va + 5n, 0n));
    expect(r.gpa).toBe(s.pa + 5n);
    expect(r.real_gpa).toBe(s.pa + 5n + OFF);
    for (const l of r.levels) expect(l.real_pte_gpa).toBe(l.pte_gpa + OFF);
    expect(readPhys64(s.env.mem, leaf)! & (EPT_A | EPT_D)).toBe(EPT_A);
    const tableLeaf = s.env.mapTdp(s.root);
    // Re-mapping cleared it; walk again: the PML4 page's EPT leaf gets A and D.
    okr(walk(s.env, s.g, s.va, 0n));
    expect(readPhys64(s.env.mem, tableLeaf)! & (EPT_A | EPT_D)).toBe(EPT_A | EPT_D);
    const noAd = long4({ nested: 'ept', eptAd: false });
    const leaf2 = noAd.env.mapTdp(noAd.pa);
    okr(walk(noAd.env, noAd.g, noAd.va, 0n));
    expect(readPhys64(noAd.env.mem, leaf2)! & (EPT_A | EPT_D)).toBe(0n);
  });

  it('NPT: missing entry for an L2 table page ⇒ nested-page fault, GUEST_PAGE, address = table page GPA', () => {
    const s = long4({ nested: 'npt' });
    s.env.mapTdp(s.pa);
    const pdTable = s.env.r64(s.entries[1]) & ~0xfffn;
    const leaf = s.env.mapTdp(pdTable);
    writePhys64(s.env.mem, leaf, 0n);
    const t = new Trace();
    const f = fail(walk(s.env, s.g, s.va + 0x10n, 0n, KVM, t));
    expect(f.stage).toBe('nested-page');
    expect(f.fault.nested_page_fault).toBe(true);
    expect(f.fault.address).toBe(pdTable);
    expect(f.fault.error_code).toBe(PFERR.WRITE | PFERR.USER | STAGE_PAGE);
    const last = f.levels[f.levels.length - 1];
    expect(last).toMatchObject({ level: 2, table_gpa: pdTable, real_pte_gpa: null, pte: null });
    expect(t.failedChecks()).toEqual(['nested-not-present']);
  });

  it('NPT: missing final mapping ⇒ GUEST_FINAL (u64 + stage patches); u16 error code loses it; no stage without the patch', () => {
    const s = long4({ nested: 'npt' });
    const f = fail(walk(s.env, s.g, s.va + 0x10n, 0n));
    expect(f.stage).toBe('nested-final');
    expect(f.fault.address).toBe(s.pa);
    // SVM nested walks are user walks.
    expect(f.fault.error_code).toBe(PFERR.USER | STAGE_FINAL);
    expect(fail(walk(s.env, s.g, s.va, 0n, without('mmu-x86-exception-u64'))).fault.error_code).toBe(PFERR.USER);
    expect(fail(walk(s.env, s.g, s.va, 0n, without('mmu-walker-fault-stage'))).fault.error_code).toBe(PFERR.USER);
  });

  it('NPT: a read-only NPT entry for an L2 table page faults (table accesses are writes); a supervisor NPT page always faults', () => {
    const s = long4({ nested: 'npt' });
    s.env.mapTdp(s.pa);
    s.env.mapTdp(s.root, P | U);
    const f = fail(walk(s.env, s.g, s.va, 0n));
    expect(f.fault.error_code).toBe(PFERR.PRESENT | PFERR.WRITE | PFERR.USER | STAGE_PAGE);
    expect(f.fault.address).toBe(s.root);
    const s2 = long4({ nested: 'npt' });
    s2.env.mapTdp(s2.pa, P | W);
    const t = new Trace();
    const f2 = fail(walk(s2.env, s2.g, s2.va, 0n, KVM, t));
    expect(f2.fault.error_code).toBe(PFERR.PRESENT | PFERR.USER | STAGE_FINAL);
    expect(t.failedChecks()).toEqual(['nested-permission']);
  });

  it('EPT: missing entry for an L2 table page ⇒ qual: read+write access, GVA valid, not translated', () => {
    const s = long4({ nested: 'ept' });
    s.env.mapTdp(s.pa);
    const ptTable = s.env.r64(s.entries[2]) & ~0xfffn;
    writePhys64(s.env.mem, s.env.mapTdp(ptTable), 0n);
    const f = fail(walk(s.env, s.g, s.va, 0n));
    expect(f.stage).toBe('nested-page');
    expect(f.fault.address).toBe(ptTable);
    const q = f.fault.exit_qualification;
    expect(q & 0x1ffn).toBe(0x83n);
    // EPT faults carry no stage bits in the error code.
    expect(f.fault.error_code & (STAGE_PAGE | STAGE_FINAL)).toBe(0n);
  });

  it('EPT: missing final mapping ⇒ GVA_TRANSLATED; write ⇒ ACC_WRITE only; old walker adds ACC_READ', () => {
    const s = long4({ nested: 'ept' });
    const f = fail(walk(s.env, s.g, s.va, 0n));
    expect(f.stage).toBe('nested-final');
    expect(f.fault.address).toBe(s.pa);
    expect(f.fault.exit_qualification).toBe(0x181n);
    const fw = fail(walk(s.env, s.g, s.va, PFERR.WRITE));
    expect(fw.fault.exit_qualification).toBe(0x182n);
    const fo = fail(walk(s.env, s.g, s.va, PFERR.WRITE, without('mmu-ept-qual-one-access')));
    expect(fo.fault.exit_qualification).toBe(0x183n);
    const ff = fail(walk(s.env, s.g, s.va, PFERR.FETCH));
    expect(ff.fault.exit_qualification).toBe(0x184n);
  });

  it('EPT execute-only final page: a read faults with track-read (qual PROT_EXEC only), not without; a fetch is fine', () => {
    const s = long4({ nested: 'ept', execonly: true });
    s.env.mapTdp(s.pa, EPT_X | EPT_WB);
    const f = fail(walk(s.env, s.g, s.va, 0n));
    expect(f.stage).toBe('nested-final');
    expect(f.fault.error_code & PFERR.PRESENT).toBe(PFERR.PRESENT);
    expect(f.fault.exit_qualification).toBe(0x1a1n);
    expect(okr(walk(s.env, s.g, s.va, 0n, without('mmu-ept-track-read'))).real_gpa).toBe(s.pa + OFF);
    expect(okr(walk(s.env, s.g, s.va, PFERR.FETCH)).real_gpa).toBe(s.pa + OFF);
    // Without the execute-only capability the same entry is a misconfiguration (RSVD, no qualification).
    const m = long4({ nested: 'ept', execonly: false });
    m.env.mapTdp(m.pa, EPT_X | EPT_WB);
    const fm = fail(walk(m.env, m.g, m.va, PFERR.FETCH));
    expect(fm.fault.error_code & PFERR.RSVD).toBe(PFERR.RSVD);
    expect(fm.fault.exit_qualification).toBe(0n);
  });

  it('EPT qualification bits 3–5: raw R/W/X ANDed over the walk; ACC order without 0780516a18f8', () => {
    const s = long4({ nested: 'ept' });
    s.env.mapTdp(s.pa, EPT_R | EPT_WB);
    const f = fail(walk(s.env, s.g, s.va, PFERR.WRITE));
    expect(f.fault.exit_qualification).toBe(0x182n | (1n << 3n));
    const old = fail(walk(s.env, s.g, s.va, PFERR.WRITE, without('mmu-ept-qual-raw-rwx')));
    expect(old.fault.exit_qualification).toBe(0x182n | (1n << 5n));
    s.env.mapTdp(s.pa, EPT_R | EPT_X | EPT_WB);
    expect(fail(walk(s.env, s.g, s.va, PFERR.WRITE)).fault.exit_qualification).toBe(0x182n | (5n << 3n));
    expect(fail(walk(s.env, s.g, s.va, PFERR.WRITE, without('mmu-ept-qual-raw-rwx'))).fault.exit_qualification).toBe(0x182n | (1n << 3n) | (1n << 5n));
  });

  it('EPT misconfigurations are RSVD|PRESENT with no qualification: memtype 2, W without R, bits 7:3 of a PML4E', () => {
    const s = long4({ nested: 'ept' });
    s.env.mapTdp(s.pa, EPT_R | EPT_W | (2n << 3n));
    const t = new Trace();
    const f = fail(walk(s.env, s.g, s.va, 0n, KVM, t));
    expect(f.fault.error_code & (PFERR.RSVD | PFERR.PRESENT)).toBe(PFERR.RSVD | PFERR.PRESENT);
    expect(f.fault.exit_qualification).toBe(0n);
    expect(t.failedChecks()).toEqual(['nested-ept-bad-memtype']);
    s.env.mapTdp(s.pa, EPT_W | EPT_WB);
    expect(fail(walk(s.env, s.g, s.va, 0n)).fault.error_code & PFERR.RSVD).toBe(PFERR.RSVD);
    const e = long4({ nested: 'ept' });
    const tdp = e.env.tdp as Extract<NestedTdp, { kind: 'ept' }>;
    const pml4e = tdp.eptp & ~0xfffn;
    writePhys64(e.env.mem, pml4e, readPhys64(e.env.mem, pml4e)! | (6n << 3n));
    expect(fail(walk(e.env, e.g, e.va, 0n)).fault.error_code & PFERR.RSVD).toBe(PFERR.RSVD);
  });

  it('VMX passes PFERR_USER only for final accesses to a user leaf: MBEC user-exec decides user-page fetches', () => {
    const s = long4({ nested: 'ept', mbec: true, flags: P | W | U });
    s.env.mapTdp(s.pa, EPT_R | EPT_X | EPT_WB);
    const f = fail(walk(s.env, s.g, s.va, PFERR.FETCH | PFERR.USER));
    expect(f.stage).toBe('nested-final');
    expect(f.fault.exit_qualification).toBe(0x184n | (5n << 3n));
    s.env.mapTdp(s.pa, EPT_R | EPT_UX | EPT_WB);
    const g = okr(walk(s.env, s.g, s.va, PFERR.FETCH | PFERR.USER));
    expect(g.real_gpa).toBe(s.pa + OFF);
    // A supervisor leaf: the fetch checks supervisor X (absent here) even from CPL 3 code.
    const k = long4({ nested: 'ept', mbec: true, flags: P | W });
    k.env.mapTdp(k.pa, EPT_R | EPT_UX | EPT_WB);
    const fk = fail(walk(k.env, k.g, k.va, PFERR.FETCH));
    expect(fk.fault.exit_qualification & (1n << 6n)).toBe(1n << 6n);
  });

  it('PAE guest under EPT: the PDPTEs are not translated (their page is unmapped) but the PD is', () => {
    const env = new Env('ept');
    const pd = env.allocL2();
    env.map('pt64', pd, 2, 0x5000n, 0x9000n, 1, P | W);
    env.mapTdp(0x9000n);
    const g = guest({ cr3: 0x3fff_f000n, cr4: CR4.PAE, efer: 0n, pdptrs: [pd | P, 0n, 0n, 0n] });
    const r = okr(walk(env, g, 0x5004n, 0n));
    expect(r.real_gpa).toBe(0x9004n + OFF);
  });

  it('CVE-2024-50115: PAE NPT PDPTEs are read at (nCR3 & GENMASK(11,5)) + 8i, not offset_in_page(nCR3) + 8i', () => {
    const env = new Env('npt', { npt_levels: 3 });
    const tdp = env.tdp as Extract<NestedTdp, { kind: 'npt' }>;
    const page = tdp.ncr3;
    const l2 = 0x4000n;
    env.mapTdp(l2); // PDPTE 0 → PD A → l2 + OFF
    // PDPTE 1 (used when nCR3[4:0] = 8 shifts the read by one entry) → PD B mapping l2 elsewhere.
    const pdB = env.allocL1();
    const ptB = env.allocL1();
    writePhys64(env.mem, page + 8n, pdB | P);
    writePhys64(env.mem, pdB, ptB | P | W | U);
    writePhys64(env.mem, ptB + 8n * 4n, 0x1f0_0000n | P | W | U);
    const bad = { ...tdp, ncr3: page | 8n };
    const ctx = (p: Profile) => ({ t: new Trace(), p, mem: env.mem });
    const good = translate_nested_gpa(ctx(KVM), bad, l2, PFERR.GUEST_FINAL, 0);
    expect(good.ok && good.gpa).toBe(l2 + OFF);
    const leak = translate_nested_gpa(ctx(without('svm-npt-pae-pdptr-in-page')), bad, l2, PFERR.GUEST_FINAL, 0);
    expect(leak.ok && leak.gpa).toBe(0x1f0_0000n);
    // An unaligned nCR3[4:0] makes the old code read a PDPTE straddling two entries (here: not present).
    const odd = translate_nested_gpa(ctx(without('svm-npt-pae-pdptr-in-page')), { ...tdp, ncr3: page | 4n }, l2, PFERR.GUEST_FINAL, 0);
    expect(odd.ok).toBe(false);
    const oddFixed = translate_nested_gpa(ctx(KVM), { ...tdp, ncr3: page | 4n }, l2, PFERR.GUEST_FINAL, 0);
    expect(oddFixed.ok).toBe(true);
  });

  it('translate_nested_gpa keeps the exact GPA it was handed as the fault address', () => {
    const env = new Env('ept');
    const r = translate_nested_gpa({ t: new Trace(), p: KVM, mem: env.mem }, env.tdp!, 0x7123n, PFERR.WRITE | PFERR.GUEST_FINAL, 0);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.fault.address).toBe(0x7123n);
      expect(r.fault.exit_qualification).toBe(0x182n);
    }
  });
});

describe('check ids', () => {
  it('every id evaluated is listed, and each listed id appears literally in a cc() call', () => {
    const src = ['walk_core.ts', 'walker.ts', 'nested_tdp.ts'].map((f) => readFileSync(new URL(`../../../src/engine/mmu/${f}`, import.meta.url), 'utf8')).join('\n');
    for (const id of MMU_WALK_CHECK_IDS) expect(src.includes(`cc(t, '${id}'`)).toBe(true);
    const s = long4({ nested: 'ept' });
    const t = new Trace();
    walk(s.env, s.g, s.va, 0n, KVM, t);
    for (const id of t.checkIds) expect(MMU_WALK_CHECK_IDS).toContain(id);
  });
});

describe('robustness', () => {
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  /** mulberry32: a tiny deterministic PRNG, so a whole connected set of tables comes from one seed. */
  function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const PAGES = 8;
  /** 16 pages of RAM, every word an entry that mostly points back into those pages, so walks go deep. */
  function randomTables(seed: number): PhysMem {
    const rnd = prng(seed);
    const r32 = () => BigInt(Math.floor(rnd() * 2 ** 32));
    const mem: PhysMem = { words: {}, ram_top: BigInt(PAGES) * 0x1000n };
    for (let i = 0n; i < BigInt(PAGES) * 512n; i++) {
      let v: bigint;
      const k = rnd();
      if (k < 0.1) v = (r32() << 32n) | r32();
      else {
        // Present most of the time, random rights/PS/A/D/memtype bits, a frame inside RAM
        // (occasionally just outside), rarely NX or bits above MAXPHYADDR.
        v = (BigInt(Math.floor(rnd() * (PAGES + 1))) << 12n) | BigInt(Math.floor(rnd() * 0x1000));
        if (rnd() < 0.8) v |= 1n;
        if (rnd() < 0.15) v |= 1n << 63n;
        if (rnd() < 0.05) v |= BigInt(Math.floor(rnd() * 2 ** 20)) << 40n;
        if (rnd() < 0.05) v |= BigInt(Math.floor(rnd() * 16)) << 59n;
        // Sometimes a 32-bit entry pair: a second entry in the high half.
        if (rnd() < 0.2) v = (v & 0xffffffffn) | ((((BigInt(Math.floor(rnd() * PAGES)) << 12n) | BigInt(Math.floor(rnd() * 0x1000))) | 1n) << 32n);
      }
      writePhys64(mem, i * 8n, v);
    }
    return mem;
  }
  const page = fc.integer({ min: 0, max: PAGES }).map((x) => BigInt(x) << 12n);
  const lowBits = fc.bigInt({ min: 0n, max: 0xfffn });
  const tdpArb = fc.oneof(
    fc.constant(null),
    fc.record({ kind: fc.constant('npt' as const), ncr3: fc.oneof(fc.tuple(page, lowBits).map(([a, b]) => a | b), u64), levels: fc.constantFrom(3 as const, 4 as const, 5 as const), nx: fc.boolean(), gmet: fc.boolean(), maxphyaddr: fc.integer({ min: 0, max: 64 }) }),
    fc.record({ kind: fc.constant('ept' as const), eptp: fc.oneof(fc.tuple(page, lowBits).map(([a, b]) => a | b), u64), execonly: fc.boolean(), mbec: fc.boolean(), advanced_exit_info: fc.boolean(), maxphyaddr: fc.integer({ min: 30, max: 52 }) }),
  );
  const bitsOf = (bits: bigint[]) => fc.subarray(bits).map((xs) => xs.reduce((a, b) => a | b, 0n));
  const guestArb = fc.record({
    cr0: fc.oneof(bitsOf([CR0.PG, CR0.PE, CR0.WP]), u64),
    cr3: fc.oneof(fc.tuple(page, lowBits).map(([a, b]) => a | b), u64),
    cr4: fc.oneof(bitsOf([CR4.PAE, CR4.PSE, CR4.LA57, CR4.SMEP, CR4.SMAP, CR4.PKE]), u64),
    efer: fc.oneof(bitsOf([EFER.LMA, EFER.LME, EFER.NX]), u64),
    pdptrs: fc.array(fc.oneof(fc.tuple(page, lowBits).map(([a, b]) => a | b), u64), { maxLength: 4 }),
    cpl: fc.integer({ min: 0, max: 3 }),
    rflags: fc.oneof(fc.constantFrom(RFLAGS.FIXED_1, RFLAGS.FIXED_1 | RFLAGS.AC), u64),
    pkru: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer()),
    pse36: fc.boolean(),
    maxphyaddr: fc.integer({ min: 0, max: 64 }),
  });
  const accessArb = fc.oneof(bitsOf([PFERR.WRITE, PFERR.USER, PFERR.FETCH, PFERR.IMPLICIT_ACCESS]), u64);
  const gvaArb = fc.oneof(u64, fc.bigInt({ min: 0n, max: 0xffff_ffffn }));

  it('walk_addr_generic never throws and is deterministic for random tables, modes and addresses', () => {
    const stages: Record<string, number> = {};
    const failed = new Set<string>();
    fc.assert(
      fc.property(fc.integer(), guestArb, tdpArb, gvaArb, accessArb, fc.constantFrom('a', 'b', 'c', 'd', 'e'), (seed, g, tdp, gva, access, which) => {
        const mem = randomTables(seed);
        const profiles: Record<string, Profile> = {
          a: KVM, b: without('mmu-ept-track-read'), c: without('svm-npt-pae-pdptr-in-page'), d: without('mmu-x86-exception-u64'), e: without('mmu-ept-qual-raw-rwx'),
        };
        const p = profiles[which];
        const copy = (): PhysMem => ({ words: { ...mem.words }, ram_top: mem.ram_top });
        const m1 = copy(), m2 = copy();
        const t1 = new Trace();
        const r1 = walk_addr_generic({ t: t1, p, mem: m1 }, g, tdp, gva, access);
        const r2 = walk_addr_generic({ t: new Trace(), p, mem: m2 }, g, tdp, gva, access);
        expect(r1).toEqual(r2);
        // Same A/D write-backs (cheap key-by-key comparison; the walk never adds keys).
        expect(Object.keys(m1.words).length).toBe(Object.keys(m2.words).length);
        for (const k in m1.words) if (m1.words[k] !== m2.words[k]) expect(m1.words[k]).toBe(m2.words[k]);
        stages[r1.ok ? 'ok' : r1.stage] = (stages[r1.ok ? 'ok' : r1.stage] ?? 0) + 1;
        for (const id of t1.failedChecks()) failed.add(id);
        for (const id of t1.checkIds) expect(MMU_WALK_CHECK_IDS).toContain(id);
        if (r1.ok) return;
        expect(r1.fault.vector).toBe(14);
        if (r1.stage === 'guest') {
          expect(r1.fault.nested_page_fault).toBe(false);
          expect(r1.fault.error_code >> 16n).toBe(0n);
          expect(r1.fault.address).toBe(gva);
        } else {
          expect(r1.fault.nested_page_fault).toBe(true);
          if (which === 'd') expect(r1.fault.error_code >> 16n).toBe(0n);
          // RSVD faults never carry a qualification.
          if (r1.fault.error_code & PFERR.RSVD) expect(r1.fault.exit_qualification).toBe(0n);
        }
      }),
      { numRuns: 400, seed: 0x5eed },
    );
    // The generator reaches every outcome and most fault reasons.
    expect(Object.keys(stages).sort()).toEqual(['guest', 'nested-final', 'nested-page', 'ok']);
    for (const id of ['walk-not-present', 'walk-rsvd', 'walk-permission', 'nested-not-present', 'nested-rsvd', 'nested-permission']) expect(failed).toContain(id);
  });
});
