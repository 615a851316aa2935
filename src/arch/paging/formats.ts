// Paging-structure entry layouts, by name (Intel SDM vol. 3A §4.3 32-bit paging, §4.4 PAE, §4.5
// 4-/5-level paging; AMD APM vol. 2 §5.3–5.4 long-mode entries, §15.25 nested paging uses the same
// format; SDM vol. 3C §29.3.2 EPT entries). Facts only: which bit means what, index arithmetic and
// page sizes. Whether a given entry is legal at a given level is the walker's (or the oracle's) job.

const bit = (n: number): bigint => 1n << BigInt(n);
/** Mask of bits hi..lo inclusive (hi >= lo, both 0..63). */
export function bits(hi: number, lo: number): bigint {
  if (hi < lo) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** 32-bit paging entries (u32). PAT is bit 7 in a PTE and bit 12 in a 4-MByte PDE. */
export const PTE32 = {
  P: bit(0),
  RW: bit(1),
  US: bit(2),
  PWT: bit(3),
  PCD: bit(4),
  A: bit(5),
  /** Dirty: leaf entries only (PTE, 4-MByte PDE). */
  D: bit(6),
  /** Page size in a PDE (honoured only with CR4.PSE = 1). */
  PS: bit(7),
  /** PAT bit of a 4-KByte PTE (same position as PS). */
  PAT_4K: bit(7),
  /** Global: leaf entries, with CR4.PGE. */
  G: bit(8),
  /** PAT bit of a 4-MByte PDE. */
  PAT_LARGE: bit(12),
  /** 4-MByte PDE bits 20:13 hold physical-address bits 39:32 (PSE-36; only (M-20):13 are used). */
  PSE36_MASK: bits(20, 13),
  PSE36_SHIFT: 13n,
  /** 4-MByte PDE bit 21 is always reserved. */
  PSE_RSVD_21: bit(21),
  /** Address of the next table / 4-KByte page: bits 31:12. */
  ADDR_MASK: bits(31, 12),
  /** Address of a 4-MByte page: bits 31:22. */
  ADDR_4M_MASK: bits(31, 22),
} as const;

/** PAE and 4-/5-level paging entries (u64), AMD long-mode and nested-paging (NPT) entries. */
export const PTE64 = {
  P: bit(0),
  RW: bit(1),
  US: bit(2),
  PWT: bit(3),
  PCD: bit(4),
  A: bit(5),
  D: bit(6),
  PS: bit(7),
  PAT_4K: bit(7),
  G: bit(8),
  PAT_LARGE: bit(12),
  /** Execute-disable (with EFER.NXE = 1; reserved otherwise). */
  NX: bit(63),
  /** Protection key (leaf entries of 4-/5-level paging, CR4.PKE / CR4.PKS). */
  PKEY_MASK: bits(62, 59),
  PKEY_SHIFT: 59n,
  /** Next-table / 4-KByte page address: bits 51:12 (bits M..51 reserved). */
  ADDR_MASK: bits(51, 12),
  ADDR_2M_MASK: bits(51, 21),
  ADDR_1G_MASK: bits(51, 30),
  /** Bits that must be 0 in a 2-MByte leaf (between PAT and the address) / 1-GByte leaf. */
  RSVD_2M_LOW: bits(20, 13),
  RSVD_1G_LOW: bits(29, 13),
  /** PAE paging: bits 62:M of PDEs/PTEs are reserved too (62:52 are not "ignored" as in 4-level). */
  PAE_HIGH_MASK: bits(62, 52),
} as const;

/** The PAE page-directory-pointer-table entries (PDPTE registers): bits 2:1 and 8:5 reserved, no NX. */
export const PAE_PDPTE = {
  P: bit(0),
  PWT: bit(3),
  PCD: bit(4),
  RSVD_LOW: bits(2, 1) | bits(8, 5),
  ADDR_MASK: bits(51, 12),
} as const;

/** AMD nested page tables use the long-mode (PTE64) format (APM vol. 2 §15.25.5). */
export const NPTE = PTE64;

/** Intel EPT paging-structure entries (SDM vol. 3C §29.3.2, Tables 29-1..29-6). */
export const EPTE = {
  R: bit(0),
  W: bit(1),
  /** Execute; supervisor-mode execute when mode-based execute control is on. */
  X: bit(2),
  RWX_MASK: bits(2, 0),
  /** Leaf memory type (0 UC, 1 WC, 4 WT, 5 WP, 6 WB; 2, 3, 7 reserved). */
  MEMTYPE_MASK: bits(5, 3),
  MEMTYPE_SHIFT: 3n,
  /** Ignore PAT memory type (leaf). */
  IPAT: bit(6),
  /** Leaf at PDPTE (1 GByte) / PDE (2 MByte); must be 0 in PML5E/PML4E. */
  PS: bit(7),
  /** Accessed (EPTP bit 6 set). */
  A: bit(8),
  /** Dirty (leaf; EPTP bit 6 set). */
  D: bit(9),
  /** User-mode execute (mode-based execute control, MBEC). */
  UX: bit(10),
  /** Suppress #VE. */
  SVE: bit(63),
  ADDR_MASK: bits(51, 12),
  ADDR_2M_MASK: bits(51, 21),
  ADDR_1G_MASK: bits(51, 30),
  /** Bits that must be 0 in non-leaf entries (6:3; plus 7 in PML5E/PML4E). */
  RSVD_NONLEAF: bits(6, 3),
  RSVD_2M_LOW: bits(20, 12),
  RSVD_1G_LOW: bits(29, 12),
} as const;

/** EPT memory types with a defined meaning; 2, 3 and 7 are reserved (EPT misconfiguration at a leaf). */
export const EPT_MEMTYPE = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 } as const;
export const EPT_MEMTYPE_RESERVED: readonly number[] = [2, 3, 7];

/** CR3 / nCR3 table-address fields. */
export const CR3 = {
  /** 32-bit paging: page directory at bits 31:12. */
  ADDR_32: bits(31, 12),
  /** PAE paging: 32-byte aligned PDPT at bits 31:5. */
  ADDR_PAE: bits(31, 5),
  /** 4-/5-level paging: top table at bits M-1:12. */
  ADDR_64: bits(51, 12),
  PWT: bit(3),
  PCD: bit(4),
} as const;

/** Paging-relevant control-register and EFER bits. */
export const CR0_PG = bit(31);
export const CR0_WP = bit(16);
export const CR4_PSE = bit(4);
export const CR4_PAE = bit(5);
export const CR4_LA57 = bit(12);
export const CR4_SMEP = bit(20);
export const CR4_SMAP = bit(21);
export const CR4_PKE = bit(22);
export const EFER_LME = bit(8);
export const EFER_LMA = bit(10);
export const EFER_NXE = bit(11);
export const RFLAGS_AC = bit(18);

export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 1n << PAGE_SHIFT;
export const PAGE_SIZES = {
  '4K': 1n << 12n,
  '2M': 1n << 21n,
  '4M': 1n << 22n,
  '1G': 1n << 30n,
  '512G': 1n << 39n,
} as const;

/** Address bits translated per level: 9 for PAE/4-/5-level/EPT/NPT (u64 entries), 10 for 32-bit paging. */
export type BitsPerLevel = 9 | 10;

/** The number of low address bits a level-`level` entry maps (level 1 = PTE). */
export function levelShift(level: number, bitsPerLevel: BitsPerLevel = 9): bigint {
  return 12n + BigInt((level - 1) * bitsPerLevel);
}

/** Bytes mapped by one entry at `level` (the page size if it is a leaf there). */
export function levelPageSize(level: number, bitsPerLevel: BitsPerLevel = 9): bigint {
  return 1n << levelShift(level, bitsPerLevel);
}

/** Index of the entry for `addr` in the level-`level` table. */
export function ptIndex(addr: bigint, level: number, bitsPerLevel: BitsPerLevel = 9): number {
  return Number((BigInt.asUintN(64, addr) >> levelShift(level, bitsPerLevel)) & ((1n << BigInt(bitsPerLevel)) - 1n));
}

/** The PAE PDPTE index (address bits 31:30). */
export function paePdpteIndex(addr: bigint): number {
  return Number((BigInt.asUintN(64, addr) >> 30n) & 3n);
}

/** Mask of physical-address bits MAXPHYADDR-1..12 (the usable part of an ADDR field). */
export function physAddrMask(maxphyaddr: number): bigint {
  return bits(Math.min(maxphyaddr, 52) - 1, 12);
}

/** Bits 51:maxphyaddr (reserved in every 64-bit entry's address field). */
export function rsvdAbovePhys(maxphyaddr: number): bigint {
  return bits(51, Math.min(maxphyaddr, 52));
}

export function levelName(kind: '32' | '64' | 'ept', level: number): string {
  if (kind === '32') return level === 2 ? 'PDE' : 'PTE';
  const n = ['PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'][level - 1] ?? `L${level}E`;
  return kind === 'ept' ? `EPT ${n}` : n;
}
