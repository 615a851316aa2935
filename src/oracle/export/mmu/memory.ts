// L1's physical memory in a nested-walk reproducer. A corpus scenario puts L1's NPT and L2's page
// tables wherever its generator did (nCR3 at 0x100000, L2's tables at 0x10200000, ...), which
// collides with the harness (its code is at 0x100000, its own tables at 0x200000) and may lie above
// the image's 256 MiB. The image keeps every L2 address (GVAs, L2 GPAs, so CR3 and every entry of
// L2's own tables stay as they are) and moves L1's pages instead: each L1 page the scenario uses
// gets a page of the arena, a free region of the harness's layout, and nCR3 plus every NPT entry
// that points at a moved page are rewritten. An NPT exit reports only L2-side values (exit_info_2
// is an L2 GPA, exit_info_1 the access and stage bits, APM 15.25.6), so moving L1's pages leaves
// every exit the same; bits above the CPU's MAXPHYADDR are kept, so an illegal address stays one.

import { ADDR51_12 } from '../../../engine/mmu/walk_core.ts';
import { memWordKey, type PhysMem } from '../../../engine/mmu/types.ts';
import type { Segment } from '../../image.ts';
import { LAYOUT, RAM_BYTES_GPA_TOP, statePage } from '../../layout.ts';

/** The arena: above the REPRO harness's one state page, below its records (layout.inc). */
export const ARENA_BASE = 0x4000000n;
const ARENA_TOP = BigInt(LAYOUT.RECORDS);
if (ARENA_BASE < BigInt(statePage(1))) throw new Error('export/mmu: the arena overlaps the harness input pages');

const PAGE = 0x1000n;
const SIZE_2M = 0x200000n;
/** NPT / long-mode entry bits (APM 5.4.1): P, R/W, U/S, A, D, PS. */
export const PTE = { P: 1n, RW: 2n, US: 4n, A: 0x20n, D: 0x40n, PS: 0x80n } as const;
const LOW12 = 0xfffn;

/** L1 memory as the image builds it: words keyed like the engine's PhysMem, arena pages handed out in order. */
export class ImageMemory {
  words: Record<string, bigint> = {};
  /** Arena pages in use (each is zero-filled in the image before its words are written). */
  readonly pages = new Set<bigint>();
  private next = ARENA_BASE;

  /** A fresh zeroed arena page. */
  alloc(): bigint {
    const p = this.next;
    if (p + PAGE > ARENA_TOP) throw new Error('export/mmu: the arena is full');
    this.next += PAGE;
    this.pages.add(p);
    return p;
  }

  /** A fresh 2 MiB-aligned arena region (an NPT 2 MiB leaf keeps its offsets). */
  alloc2M(): bigint {
    this.next = (this.next + SIZE_2M - 1n) & ~(SIZE_2M - 1n);
    const base = this.next;
    for (let off = 0n; off < SIZE_2M; off += PAGE) this.alloc();
    return base;
  }

  read(pa: bigint): bigint {
    return this.words[memWordKey(pa)] ?? 0n;
  }

  write(pa: bigint, v: bigint): void {
    this.words[memWordKey(pa)] = BigInt.asUintN(64, v);
  }

  /** A 4-byte entry (32-bit paging) at a 4-aligned address. */
  read32(pa: bigint): bigint {
    const w = this.read(pa);
    return (pa & 4n) === 0n ? w & 0xffffffffn : w >> 32n;
  }

  write32(pa: bigint, v: bigint): void {
    const w = this.read(pa);
    this.write(pa, (pa & 4n) === 0n ? (w & ~0xffffffffn) | (v & 0xffffffffn) : (w & 0xffffffffn) | ((v & 0xffffffffn) << 32n));
  }

  /** Undo point for a placement attempt. */
  save(): { words: Record<string, bigint>; pages: bigint[]; next: bigint } {
    return { words: { ...this.words }, pages: [...this.pages], next: this.next };
  }

  restore(s: ReturnType<ImageMemory['save']>): void {
    this.words = { ...s.words };
    this.pages.clear();
    for (const p of s.pages) this.pages.add(p);
    this.next = s.next;
  }

  /** The engine's view: the image's RAM (one memslot from 0). */
  phys(): PhysMem {
    return { words: { ...this.words }, ram_top: RAM_BYTES_GPA_TOP };
  }

  /** The arena as segments: every page used, zero-filled where no word is set. */
  segments(): Segment[] {
    return [...this.pages].sort((a, b) => (a < b ? -1 : 1)).map((page) => {
      const bytes = new Uint8Array(Number(PAGE));
      const dv = new DataView(bytes.buffer);
      for (let off = 0n; off < PAGE; off += 8n) {
        const v = this.words[memWordKey(page + off)];
        if (v) dv.setBigUint64(Number(off), v, true);
      }
      return { gpa: Number(page), bytes };
    });
  }
}

/** One nested translation: the L1 address, and the L1 addresses of the NPT entries read on the way. */
export interface NptLookup {
  pa: bigint | null;
  entries: bigint[];
}

/**
 * L1's 4-level NPT as the CPU walks it (APM 15.25.5: the host's long-mode format), without
 * permission checks: where an L2 GPA lives in L1 memory, and which entries the walk reads.
 */
export function nptLookup(mem: ImageMemory, ncr3: bigint, gpa: bigint): NptLookup {
  const entries: bigint[] = [];
  let table = ncr3 & ADDR51_12;
  for (let level = 4; level >= 1; level--) {
    const at = table + 8n * ((gpa >> BigInt(12 + 9 * (level - 1))) & 511n);
    entries.push(at);
    const v = mem.read(at);
    if ((v & PTE.P) === 0n) return { pa: null, entries };
    const frame = v & ADDR51_12;
    if (level === 1) return { pa: frame | (gpa & LOW12), entries };
    if ((level === 2 || level === 3) && (v & PTE.PS) !== 0n) {
      const size = level === 2 ? SIZE_2M : 1n << 30n;
      return { pa: (frame & ~(size - 1n)) | (gpa & (size - 1n)), entries };
    }
    table = frame;
  }
  return { pa: null, entries };
}

export type Relocation =
  | { ok: true; mem: ImageMemory; ncr3: bigint; moved: Map<bigint, bigint> }
  | { ok: false; why: string };

/** Where a page outside the scenario's memory goes: still outside the image's (its "no memslot" stays). */
function outside(frame: bigint, ramTop: bigint): bigint {
  const top = RAM_BYTES_GPA_TOP;
  return ramTop >= top ? frame : frame - ramTop + top;
}

/**
 * Moves the scenario's L1 pages into the arena. NPT tables are found from nCR3 (4-level: the
 * harness's L1 runs VMRUN in long mode); a 1 GiB NPT leaf inside L1's memory has no room in a
 * 256 MiB image and is refused.
 */
export function relocateL1(words: Record<string, bigint>, ramTop: bigint, ncr3: bigint): Relocation {
  const inRam = (pa: bigint): boolean => pa >= 0n && pa < ramTop;
  const tables = new Map<bigint, number>();
  const leaves4k = new Set<bigint>();
  const leaves2m = new Set<bigint>();
  const root = ncr3 & ADDR51_12;
  const queue: [bigint, number][] = inRam(root) ? [[root, 4]] : [];
  while (queue.length > 0) {
    const [page, level] = queue.shift()!;
    if (tables.has(page)) continue;
    tables.set(page, level);
    for (let e = 0n; e < 512n; e++) {
      const v = words[memWordKey(page + 8n * e)];
      if (v === undefined || (v & PTE.P) === 0n) continue;
      const frame = v & ADDR51_12;
      if (!inRam(frame)) continue;
      const big = (level === 2 || level === 3) && (v & PTE.PS) !== 0n;
      if (level > 1 && !big) queue.push([frame, level - 1]);
      else if (level === 1) leaves4k.add(frame);
      else if (level === 2) leaves2m.add(frame & ~(SIZE_2M - 1n));
      else return { ok: false, why: `L1's NPT maps a 1 GiB page at 0x${frame.toString(16)} inside L1's memory, which the 256 MiB image cannot hold` };
    }
  }
  const mem = new ImageMemory();
  const moved = new Map<bigint, bigint>();
  const regions = new Map<bigint, bigint>();
  for (const base of [...leaves2m].sort((a, b) => (a < b ? -1 : 1))) regions.set(base, mem.alloc2M());
  const pages = new Set<bigint>([...tables.keys(), ...leaves4k]);
  for (const k of Object.keys(words)) pages.add(BigInt(k) & ~LOW12);
  const reloc = (pa: bigint): bigint => {
    if (!inRam(pa)) return outside(pa, ramTop);
    const region = regions.get(pa & ~(SIZE_2M - 1n));
    if (region !== undefined) return region | (pa & (SIZE_2M - 1n));
    let page = moved.get(pa & ~LOW12);
    if (page === undefined) {
      page = mem.alloc();
      moved.set(pa & ~LOW12, page);
    }
    return page | (pa & LOW12);
  };
  for (const p of [...pages].sort((a, b) => (a < b ? -1 : 1))) if (inRam(p)) reloc(p);
  for (const [k, v] of Object.entries(words)) {
    const at = BigInt(k);
    // Words outside L1's memory are never read (no memslot): the image has nowhere to keep them.
    if (!inRam(at)) continue;
    let value = v;
    const level = tables.get(at & ~LOW12);
    if (level !== undefined && (v & PTE.P) !== 0n && inRam(v & ADDR51_12)) {
      const big = (level === 2 || level === 3) && (v & PTE.PS) !== 0n;
      // A 2 MiB leaf's address is bits 51:21; bits 20:13 are reserved and 12 is PAT (APM 5.4.1).
      const mask = big ? ADDR51_12 & ~(SIZE_2M - 1n) : ADDR51_12;
      value = (v & ~mask) | (reloc(v & mask) & mask);
    }
    mem.write(reloc(at), value);
  }
  const ncr3Moved = (ncr3 & ~ADDR51_12) | (reloc(root) & ADDR51_12);
  return { ok: true, mem, ncr3: ncr3Moved, moved };
}
