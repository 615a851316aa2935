// Declarative page-walk oracle for `walker-matches-spec`: what the ARCHITECTURE says a translation of
// an L2 linear address gives, written from the manuals and independent of the engine's walker.
//   Guest paging: Intel SDM vol. 3A §4.3 (32-bit), §4.4 (PAE), §4.5 (4-/5-level), §4.6 (access
//   rights: U/S, R/W with CR0.WP, XD with EFER.NXE, SMEP, SMAP with EFLAGS.AC and implicit accesses,
//   PKU), §4.7 (#PF error code), §4.8 (accessed/dirty); AMD APM vol. 2 §5.3–5.6 (same facts).
//   Nested: APM vol. 2 §15.25 (nested paging, #NPF EXITINFO1 bits 32/33), SDM vol. 3C §29.3.2 (EPT
//   translation), §29.3.3.1 (EPT misconfiguration), §29.3.3.2 (EPT violation + qualification),
//   §29.3.5 (EPT accessed/dirty flags: with EPTP bit 6 every guest paging-structure access is a write).
// Every check is a named rule (RULES below). Where KVM knowingly answers differently, the oracle keeps
// the architectural answer and the difference is data in deviations.ts; nothing here imports the engine
// (only the shared TYPES of src/engine/mmu/types.ts and arch constants).

import {
  CR0_PG, CR0_WP, CR3, CR4_LA57, CR4_PAE, CR4_PKE, CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_NXE, EPTE,
  EPT_MEMTYPE_RESERVED, PAE_PDPTE, PTE32, PTE64, RFLAGS_AC, bits, paePdpteIndex, physAddrMask, ptIndex,
  rsvdAbovePhys,
} from '../../../src/arch/paging/formats.ts';
import { PFERR_MASK } from '../../../src/arch/paging/pferr.ts';
import { EPTP } from '../../../src/arch/vmx/eptp.ts';
import type { GuestPaging, NestedTdp, PhysMem } from '../../../src/engine/mmu/types.ts';

export interface SpecAccess {
  write: boolean;
  /** A user-mode access (CPL 3 and not an implicit supervisor access). */
  user: boolean;
  fetch: boolean;
  /** An implicit supervisor-mode access (e.g. to the GDT/IDT): supervisor even at CPL 3, AC ignored. */
  implicit: boolean;
}

/** Model choices the GuestPaging / NestedTdp types do not carry. */
export interface SpecOptions {
  /** CPUID.80000001H:EDX.Page1GB for the guest (1-GByte leaves at PDPTE level). Default true. */
  gbpages?: boolean;
  /** IA32_VMX_EPT_VPID_CAP bit 17 (1-GByte EPT leaves). Default true. */
  ept1g?: boolean;
  /** IA32_VMX_EPT_VPID_CAP bit 16 (2-MByte EPT leaves). Default true. */
  ept2m?: boolean;
}

/** One accessed/dirty update: `set` are the bits that change (not already 1) in the entry at `gpa`. */
export interface AdUpdate {
  /** L1 physical address of the entry (the address in PhysMem). */
  gpa: bigint;
  set: bigint;
  /** Entry width in bytes: 4 for 32-bit paging entries (bits of the u32 at gpa), else 8. */
  width: 4 | 8;
  /** 'guest' = L2's own paging structures, 'tdp' = L1's NPT / EPT. */
  table: 'guest' | 'tdp';
}

export type SpecWalk =
  | {
      ok: true;
      /** L2 guest-physical address of the access. */
      gpa: bigint;
      /** L1 physical address (after the nested TDP; = gpa without one). */
      real_gpa: bigint;
      /** Size of the guest page mapping the address (4K, 2M, 4M, 1G); 0 with paging off. */
      page_size: bigint;
      ad_updates: AdUpdate[];
    }
  | { ok: false; kind: 'pf'; error_code: bigint; address: bigint; rule: string }
  | { ok: false; kind: 'npf'; stage: 'page' | 'final'; error_code: bigint; gpa: bigint; rule: string }
  | {
      ok: false;
      kind: 'ept-violation';
      stage: 'page' | 'final';
      /** Qualification bits 0–8 (SDM §29.3.3.2). */
      qual: bigint;
      /** Bits 9–11 (advanced VM-exit information: user / writable / XD of the linear address), 0 unless advertised. */
      qual_adv: bigint;
      gpa: bigint;
      rule: string;
    }
  | { ok: false; kind: 'ept-misconfig'; stage: 'page' | 'final'; gpa: bigint; rule: string };

// ------------------------------------------------------------------------------------------------
// Rules. `when` true means the rule fires (a fault). Evaluated in table order per entry / at the leaf.

export type GuestMode = 'none' | '32' | 'pae' | 'lm4' | 'lm5';

interface GuestEntryCtx {
  mode: GuestMode;
  /** 1 = PTE … 5 = PML5E; PAE level 3 is a PDPTE (register or, under NPT, memory). */
  level: number;
  e: bigint;
  nxe: boolean;
  pse: boolean;
  pse36: boolean;
  maxphyaddr: number;
  gbpages: boolean;
}

interface GuestLeafCtx {
  mode: GuestMode;
  g: GuestPaging;
  acc: SpecAccess;
  /** Effective user-mode access (user and not implicit). */
  um: boolean;
  /** AND of U/S, AND of R/W, OR of XD over the levels (XD only where it exists and EFER.NXE = 1). */
  us: boolean;
  rw: boolean;
  xd: boolean;
  pkey: number;
}

interface NptEntryCtx { levels: 3 | 4 | 5; level: number; e: bigint; nx: boolean; maxphyaddr: number }
interface NptLeafCtx { write: boolean; fetch: boolean; user: boolean; gmet: boolean; us: boolean; rw: boolean; xd: boolean }
interface EptEntryCtx { level: number; e: bigint; leaf: boolean; execonly: boolean; mbec: boolean; maxphyaddr: number; ept1g: boolean; ept2m: boolean }
interface EptLeafCtx { read: boolean; write: boolean; fetch: boolean; userLinear: boolean; mbec: boolean; r: boolean; w: boolean; x: boolean; ux: boolean }

export interface Rule<C> {
  id: string;
  /** What the rule produces when it fires. */
  outcome: 'not-present' | 'rsvd' | 'protection' | 'pk' | 'misconfig' | 'violation';
  source: string;
  text: string;
  when: (c: C) => boolean;
}

type RuleHead = Pick<Rule<never>, 'id' | 'outcome'>;

const lm = (m: GuestMode): boolean => m === 'lm4' || m === 'lm5';
const has = (v: bigint, m: bigint): boolean => (v & m) !== 0n;

/** Physical-address width usable by a 32-bit-paging 4-MByte page: 32 without PSE-36, else min(M, 40). */
export function pse36Width(pse36: boolean, maxphyaddr: number): number {
  return pse36 ? Math.min(maxphyaddr, 40) : 32;
}

export const GUEST_ENTRY_RULES: readonly Rule<GuestEntryCtx>[] = [
  {
    id: 'guest-not-present', outcome: 'not-present', source: 'SDM 3A §4.3–4.5 (P flag), §4.7',
    text: 'P (bit 0) = 0 at any level: #PF with error-code P = 0',
    when: (c) => !has(c.e, 1n),
  },
  {
    id: 'guest-rsvd-pdpte', outcome: 'rsvd', source: 'SDM 3A §4.4.1 Table 4-8',
    text: 'PAE PDPTE: bits 2:1, 8:5 and 63:M are reserved (no XD in a PDPTE)',
    when: (c) => c.mode === 'pae' && c.level === 3 && has(c.e, PAE_PDPTE.RSVD_LOW | bits(63, Math.min(c.maxphyaddr, 52))),
  },
  {
    id: 'guest-rsvd-maxphyaddr', outcome: 'rsvd', source: 'SDM 3A §4.4.2, §4.5.4 (bits 51:M)',
    text: 'PAE / 4-/5-level entry: address bits 51:MAXPHYADDR must be 0',
    when: (c) => c.mode !== '32' && !(c.mode === 'pae' && c.level === 3) && has(c.e, rsvdAbovePhys(c.maxphyaddr)),
  },
  {
    id: 'guest-rsvd-pae-high', outcome: 'rsvd', source: 'SDM 3A §4.4.2 Tables 4-9..4-11 (62:M reserved)',
    text: 'PAE PDE/PTE: bits 62:52 are reserved (they are ignored only in 4-/5-level paging)',
    when: (c) => c.mode === 'pae' && c.level < 3 && has(c.e, PTE64.PAE_HIGH_MASK),
  },
  {
    id: 'guest-rsvd-xd', outcome: 'rsvd', source: 'SDM 3A §4.4.2, §4.5.4 (XD reserved if IA32_EFER.NXE = 0)',
    text: 'PAE / 4-/5-level entry: bit 63 with EFER.NXE = 0',
    when: (c) => c.mode !== '32' && !(c.mode === 'pae' && c.level === 3) && !c.nxe && has(c.e, PTE64.NX),
  },
  {
    id: 'guest-rsvd-ps-top', outcome: 'rsvd', source: 'SDM 3A §4.5.4 Tables 4-14/4-15 (PML5E/PML4E bit 7)',
    text: 'PML5E / PML4E: PS (bit 7) must be 0',
    when: (c) => lm(c.mode) && c.level >= 4 && has(c.e, PTE64.PS),
  },
  {
    id: 'guest-rsvd-ps-1g', outcome: 'rsvd', source: 'SDM 3A §4.5.4 Table 4-16 (1-GByte pages need CPUID Page1GB)',
    text: 'PDPTE with PS = 1 when 1-GByte pages are not supported',
    when: (c) => lm(c.mode) && c.level === 3 && !c.gbpages && has(c.e, PTE64.PS),
  },
  {
    id: 'guest-rsvd-large-low', outcome: 'rsvd', source: 'SDM 3A Tables 4-10, 4-16, 4-18 (bits 29:13 / 20:13)',
    text: '1-GByte leaf: bits 29:13 must be 0; 2-MByte leaf: bits 20:13 must be 0',
    when: (c) => c.mode !== '32' && c.mode !== 'none' && has(c.e, PTE64.PS) &&
      ((c.level === 3 && lm(c.mode) && c.gbpages && has(c.e, PTE64.RSVD_1G_LOW)) ||
        (c.level === 2 && has(c.e, PTE64.RSVD_2M_LOW))),
  },
  {
    id: 'guest-rsvd-pse-4m', outcome: 'rsvd', source: 'SDM 3A §4.3 Table 4-4 (bits 21:(M-19) of a 4-MByte PDE)',
    text: '32-bit 4-MByte PDE (CR4.PSE = 1): bits 21:(M-19) reserved, M = 32 without PSE-36 else min(MAXPHYADDR, 40)',
    when: (c) => c.mode === '32' && c.level === 2 && c.pse && has(c.e, PTE32.PS) &&
      has(c.e, bits(21, pse36Width(c.pse36, c.maxphyaddr) - 19)),
  },
];

export const GUEST_LEAF_RULES: readonly Rule<GuestLeafCtx>[] = [
  {
    id: 'guest-user-supervisor-page', outcome: 'protection', source: 'SDM 3A §4.6.1 (user-mode access rights)',
    text: 'user-mode access to a supervisor-mode address (U/S = 0 at some level)',
    when: (c) => c.um && !c.us,
  },
  {
    id: 'guest-user-write-ro', outcome: 'protection', source: 'SDM 3A §4.6.1',
    text: 'user-mode write to an address with R/W = 0 at some level (CR0.WP irrelevant)',
    when: (c) => c.um && c.acc.write && !c.rw,
  },
  {
    id: 'guest-sup-write-ro-wp', outcome: 'protection', source: 'SDM 3A §4.6.1 (CR0.WP)',
    text: 'supervisor-mode write to a read-only address with CR0.WP = 1',
    when: (c) => !c.um && c.acc.write && !c.rw && has(c.g.cr0, CR0_WP),
  },
  {
    id: 'guest-fetch-xd', outcome: 'protection', source: 'SDM 3A §4.6.1 (XD with IA32_EFER.NXE = 1)',
    text: 'instruction fetch from an address with XD = 1 at some level',
    when: (c) => c.acc.fetch && c.xd,
  },
  {
    id: 'guest-smep', outcome: 'protection', source: 'SDM 3A §4.6.1 (CR4.SMEP)',
    text: 'supervisor-mode fetch from a user-mode address with CR4.SMEP = 1',
    when: (c) => !c.um && c.acc.fetch && c.us && has(c.g.cr4, CR4_SMEP),
  },
  {
    id: 'guest-smap', outcome: 'protection', source: 'SDM 3A §4.6.1 (CR4.SMAP, EFLAGS.AC, implicit accesses)',
    text: 'supervisor-mode data access to a user-mode address with CR4.SMAP = 1, unless explicit at CPL < 3 with EFLAGS.AC = 1',
    when: (c) => !c.um && !c.acc.fetch && c.us && has(c.g.cr4, CR4_SMAP) &&
      (c.acc.implicit || c.g.cpl === 3 || !has(c.g.rflags, RFLAGS_AC)),
  },
  {
    id: 'guest-pku-ad', outcome: 'pk', source: 'SDM 3A §4.6.2 (PKRU.AD)',
    text: '4-/5-level paging, CR4.PKE = 1, data access to a user-mode address whose key has AD = 1',
    when: (c) => lm(c.mode) && has(c.g.cr4, CR4_PKE) && c.us && !c.acc.fetch && ((c.g.pkru >>> (2 * c.pkey)) & 1) === 1,
  },
  {
    id: 'guest-pku-wd', outcome: 'pk', source: 'SDM 3A §4.6.2 (PKRU.WD; supervisor writes only with CR0.WP = 1)',
    text: '4-/5-level paging, CR4.PKE = 1, write to a user-mode address whose key has WD = 1 (user-mode, or supervisor with CR0.WP = 1)',
    when: (c) => lm(c.mode) && has(c.g.cr4, CR4_PKE) && c.us && c.acc.write && ((c.g.pkru >>> (2 * c.pkey + 1)) & 1) === 1 &&
      (c.um || has(c.g.cr0, CR0_WP)),
  },
];

export const NPT_ENTRY_RULES: readonly Rule<NptEntryCtx>[] = [
  {
    id: 'npt-not-present', outcome: 'not-present', source: 'APM 2 §15.25.6, §5.3 (P flag)',
    text: 'nested entry with P = 0: #NPF with EXITINFO1.P = 0',
    when: (c) => !has(c.e, 1n),
  },
  {
    id: 'npt-rsvd-pdpte', outcome: 'rsvd', source: 'APM 2 §5.3.3 (PAE PDPE reserved bits)',
    text: 'legacy-PAE nested PDPE: bits 2:1, 8:5 and 63:M reserved',
    when: (c) => c.levels === 3 && c.level === 3 && has(c.e, PAE_PDPTE.RSVD_LOW | bits(63, Math.min(c.maxphyaddr, 52))),
  },
  {
    id: 'npt-rsvd-maxphyaddr', outcome: 'rsvd', source: 'APM 2 §5.3.3–5.3.4 (bits 51:M)',
    text: 'nested entry: address bits 51:MAXPHYADDR must be 0',
    when: (c) => !(c.levels === 3 && c.level === 3) && has(c.e, rsvdAbovePhys(c.maxphyaddr)),
  },
  {
    id: 'npt-rsvd-pae-high', outcome: 'rsvd', source: 'APM 2 §5.3.3 (legacy PAE: 62:52 reserved)',
    text: 'legacy-PAE nested PDE/PTE: bits 62:52 reserved',
    when: (c) => c.levels === 3 && c.level < 3 && has(c.e, PTE64.PAE_HIGH_MASK),
  },
  {
    id: 'npt-rsvd-nx', outcome: 'rsvd', source: 'APM 2 §5.6.1 (NX reserved with EFER.NXE = 0); §15.25.5 (host EFER governs)',
    text: 'nested entry bit 63 while L1 EFER.NXE = 0',
    when: (c) => !(c.levels === 3 && c.level === 3) && !c.nx && has(c.e, PTE64.NX),
  },
  {
    id: 'npt-rsvd-ps-top', outcome: 'rsvd', source: 'APM 2 §5.3.3 (PML4E/PML5E bit 7 MBZ)',
    text: 'nested PML5E / PML4E with PS = 1',
    when: (c) => c.levels >= 4 && c.level >= 4 && has(c.e, PTE64.PS),
  },
  {
    id: 'npt-rsvd-large-low', outcome: 'rsvd', source: 'APM 2 §5.3.4 (1-GByte / 2-MByte PAT and reserved bits)',
    text: 'nested 1-GByte leaf bits 29:13 / 2-MByte leaf bits 20:13 must be 0',
    when: (c) => has(c.e, PTE64.PS) && ((c.level === 3 && c.levels >= 4 && has(c.e, PTE64.RSVD_1G_LOW)) ||
      (c.level === 2 && has(c.e, PTE64.RSVD_2M_LOW))),
  },
];

export const NPT_LEAF_RULES: readonly Rule<NptLeafCtx>[] = [
  {
    id: 'npt-user-supervisor-page', outcome: 'protection', source: 'APM 2 §15.25.5 (nested accesses are user accesses) [mem; KVM agrees: svm §5.2]',
    text: 'nested translation (a user access unless a GMET supervisor fetch) through a nested entry with U/S = 0',
    when: (c) => c.user && !c.us,
  },
  {
    id: 'npt-write-ro', outcome: 'protection', source: 'APM 2 §15.25.5, §5.6',
    text: 'write (including an A/D update of a guest paging-structure entry) through a nested entry with R/W = 0',
    when: (c) => c.write && !c.rw,
  },
  {
    id: 'npt-fetch-nx', outcome: 'protection', source: 'APM 2 §5.6.1, §15.25.5',
    text: 'instruction fetch through a nested entry with NX = 1 (L1 EFER.NXE = 1)',
    when: (c) => c.fetch && c.xd,
  },
  {
    id: 'npt-gmet', outcome: 'protection', source: 'APM 2 §15.25.x GMET [mem, unverified wording]',
    text: 'GMET: supervisor-mode (guest CPL < 3) fetch from a nested page with U/S = 1',
    when: (c) => c.gmet && c.fetch && !c.user && c.us,
  },
];

export const EPT_ENTRY_RULES: readonly Rule<EptEntryCtx>[] = [
  {
    id: 'ept-not-present', outcome: 'violation', source: 'SDM 3C §29.3.2 (present = any of bits 2:0, or bit 10 with MBEC)',
    text: 'EPT entry not present: EPT violation',
    when: (c) => !has(c.e, EPTE.RWX_MASK) && !(c.mbec && has(c.e, EPTE.UX)),
  },
  {
    id: 'ept-misconfig-write-no-read', outcome: 'misconfig', source: 'SDM 3C §29.3.3.1',
    text: 'bit 1 (write) set with bit 0 (read) clear',
    when: (c) => has(c.e, EPTE.W) && !has(c.e, EPTE.R),
  },
  {
    id: 'ept-misconfig-exec-only', outcome: 'misconfig', source: 'SDM 3C §29.3.3.1 (execute-only needs EPT_VPID_CAP bit 0)',
    text: 'execute-only entry (bit 0 clear, bit 2 or with MBEC bit 10 set) without execute-only support',
    when: (c) => !c.execonly && !has(c.e, EPTE.R) && (has(c.e, EPTE.X) || (c.mbec && has(c.e, EPTE.UX))),
  },
  {
    id: 'ept-misconfig-maxphyaddr', outcome: 'misconfig', source: 'SDM 3C §29.3.3.1, Tables 29-1..29-6 (bits 51:M)',
    text: 'address bits 51:MAXPHYADDR set',
    when: (c) => has(c.e, rsvdAbovePhys(c.maxphyaddr)),
  },
  {
    id: 'ept-misconfig-top-ps', outcome: 'misconfig', source: 'SDM 3C Tables 29-1/29-2 (PML5E/PML4E bits 7:3 reserved)',
    text: 'EPT PML5E / PML4E with any of bits 7:3 set',
    when: (c) => c.level >= 4 && has(c.e, bits(7, 3)),
  },
  {
    id: 'ept-misconfig-nonleaf-rsvd', outcome: 'misconfig', source: 'SDM 3C Tables 29-4, 29-6 (bits 6:3 of a non-leaf PDPTE/PDE)',
    text: 'non-leaf EPT PDPTE / PDE with any of bits 6:3 set',
    when: (c) => (c.level === 2 || c.level === 3) && !c.leaf && has(c.e, EPTE.RSVD_NONLEAF),
  },
  {
    id: 'ept-misconfig-large-unsupported', outcome: 'misconfig', source: 'SDM 3C §29.3.3.1 (bit 7 where the page size is not supported)',
    text: 'EPT PDPTE / PDE with PS = 1 when 1-GByte / 2-MByte EPT pages are not supported',
    when: (c) => has(c.e, EPTE.PS) && ((c.level === 3 && !c.ept1g) || (c.level === 2 && !c.ept2m)),
  },
  {
    id: 'ept-misconfig-large-low', outcome: 'misconfig', source: 'SDM 3C Tables 29-3, 29-5 (bits 29:12 / 20:12)',
    text: '1-GByte EPT leaf bits 29:12 / 2-MByte EPT leaf bits 20:12 must be 0',
    when: (c) => c.leaf && ((c.level === 3 && has(c.e, EPTE.RSVD_1G_LOW)) || (c.level === 2 && has(c.e, EPTE.RSVD_2M_LOW))),
  },
  {
    id: 'ept-misconfig-memtype', outcome: 'misconfig', source: 'SDM 3C §29.3.3.1 (leaf memory type 2, 3, 7)',
    text: 'leaf EPT entry with a reserved memory type (2, 3 or 7) in bits 5:3',
    when: (c) => c.leaf && EPT_MEMTYPE_RESERVED.includes(Number((c.e & EPTE.MEMTYPE_MASK) >> EPTE.MEMTYPE_SHIFT)),
  },
];

export const EPT_LEAF_RULES: readonly Rule<EptLeafCtx>[] = [
  {
    id: 'ept-read', outcome: 'violation', source: 'SDM 3C §29.3.3.2',
    text: 'data read with bit 0 clear in some EPT entry of the walk',
    when: (c) => c.read && !c.r,
  },
  {
    id: 'ept-write', outcome: 'violation', source: 'SDM 3C §29.3.3.2',
    text: 'data write (incl. a guest paging-structure write) with bit 1 clear in some EPT entry',
    when: (c) => c.write && !c.w,
  },
  {
    id: 'ept-fetch', outcome: 'violation', source: 'SDM 3C §29.3.3.2 (MBEC: bit 2 governs supervisor-mode linear addresses)',
    text: 'instruction fetch with bit 2 clear (MBEC: fetch from a supervisor-mode linear address)',
    when: (c) => c.fetch && (!c.mbec || !c.userLinear) && !c.x,
  },
  {
    id: 'ept-fetch-user', outcome: 'violation', source: 'SDM 3C §29.3.3.2 (MBEC: bit 10 governs user-mode linear addresses)',
    text: 'MBEC: instruction fetch from a user-mode linear address with bit 10 clear',
    when: (c) => c.fetch && c.mbec && c.userLinear && !c.ux,
  },
];

/** Every rule, with the table it belongs to (for reports and coverage). */
export const RULES: readonly { table: 'guest-entry' | 'guest-leaf' | 'npt-entry' | 'npt-leaf' | 'ept-entry' | 'ept-leaf'; rule: Rule<never> }[] = [
  ...GUEST_ENTRY_RULES.map((rule) => ({ table: 'guest-entry' as const, rule: rule as Rule<never> })),
  ...GUEST_LEAF_RULES.map((rule) => ({ table: 'guest-leaf' as const, rule: rule as Rule<never> })),
  ...NPT_ENTRY_RULES.map((rule) => ({ table: 'npt-entry' as const, rule: rule as Rule<never> })),
  ...NPT_LEAF_RULES.map((rule) => ({ table: 'npt-leaf' as const, rule: rule as Rule<never> })),
  ...EPT_ENTRY_RULES.map((rule) => ({ table: 'ept-entry' as const, rule: rule as Rule<never> })),
  ...EPT_LEAF_RULES.map((rule) => ({ table: 'ept-leaf' as const, rule: rule as Rule<never> })),
];

function firstFiring<C>(rules: readonly Rule<C>[], c: C): Rule<C> | null {
  for (const r of rules) if (r.when(c)) return r;
  return null;
}

// ------------------------------------------------------------------------------------------------
// Memory access (L1 physical). Unbacked physical memory reads as all-ones (platform behaviour; see
// deviations.ts `unbacked-table-read`).

function read64(mem: PhysMem, pa: bigint): bigint {
  if (pa < 0n || pa + 8n > mem.ram_top) return (1n << 64n) - 1n;
  return BigInt.asUintN(64, mem.words['0x' + (pa & ~7n).toString(16)] ?? 0n);
}

function read32(mem: PhysMem, pa: bigint): bigint {
  const w = read64(mem, pa & ~7n);
  return (pa & 4n) === 0n ? w & 0xffffffffn : w >> 32n;
}

// ------------------------------------------------------------------------------------------------
// The nested (L1 TDP) translation of one L2 guest-physical access.

interface TdpAccess {
  write: boolean;
  fetch: boolean;
  /** Paging-structure access of L2's walk ('page') or the final access ('final'). */
  stage: 'page' | 'final';
  /** L2's effective user-mode (for GMET). */
  um: boolean;
  /** The linear address's U/S, R/W, XD (MBEC and EPT advanced exit information); paging off: 0 / 1 / 0. */
  lin: { us: boolean; rw: boolean; xd: boolean };
}

type TdpResult =
  | { ok: true; pa: bigint; ad: AdUpdate[] }
  | Extract<SpecWalk, { kind: 'npf' | 'ept-violation' | 'ept-misconfig' }>;

function tdpTranslate(mem: PhysMem, tdp: NestedTdp, gpa: bigint, a: TdpAccess, opts: SpecOptions): TdpResult {
  return tdp.kind === 'npt' ? nptTranslate(mem, tdp, gpa, a) : eptTranslate(mem, tdp, gpa, a, opts);
}

function nptTranslate(mem: PhysMem, t: Extract<NestedTdp, { kind: 'npt' }>, gpa: bigint, a: TdpAccess): TdpResult {
  const stageBit = a.stage === 'page' ? PFERR_MASK.GUEST_PAGE : PFERR_MASK.GUEST_FINAL;
  // Non-GMET: every nested access is a user access. GMET: a supervisor-mode fetch is checked as supervisor.
  const user = !(t.gmet && a.fetch && !a.um);
  const fail = (rule: RuleHead, present: boolean): TdpResult => {
    let ec = stageBit;
    if (present) ec |= PFERR_MASK.P;
    if (a.write) ec |= PFERR_MASK.W;
    if (user) ec |= PFERR_MASK.U;
    if (rule.outcome === 'rsvd') ec |= PFERR_MASK.RSVD;
    if (a.fetch && t.nx) ec |= PFERR_MASK.FETCH;
    return { ok: false, kind: 'npf', stage: a.stage, error_code: ec, gpa, rule: rule.id };
  };
  const pmask = physAddrMask(t.maxphyaddr);
  let rw = true, us = true, xd = false;
  const ad: AdUpdate[] = [];
  let level: number = t.levels;
  let tableBase = t.ncr3 & CR3.ADDR_64 & pmask;
  let entryPa: bigint;
  if (t.levels === 3) entryPa = (t.ncr3 & CR3.ADDR_PAE) + 8n * BigInt(paePdpteIndex(gpa));
  else entryPa = tableBase + 8n * BigInt(ptIndex(gpa, level, 9));
  for (;;) {
    const e = read64(mem, entryPa);
    const c: NptEntryCtx = { levels: t.levels, level, e, nx: t.nx, maxphyaddr: t.maxphyaddr };
    const r = firstFiring(NPT_ENTRY_RULES, c);
    if (r) return fail(r, r.outcome !== 'not-present');
    const isPdpteReg = t.levels === 3 && level === 3;
    if (!isPdpteReg) {
      rw &&= has(e, PTE64.RW);
      us &&= has(e, PTE64.US);
      xd ||= t.nx && has(e, PTE64.NX);
    }
    const leaf = level === 1 || (!isPdpteReg && (level === 2 || level === 3) && has(e, PTE64.PS));
    if (!isPdpteReg) {
      const want = PTE64.A | (leaf && a.write ? PTE64.D : 0n);
      if ((e & want) !== want) ad.push({ gpa: entryPa, set: want & ~e, width: 8, table: 'tdp' });
    }
    if (leaf) {
      const lr = firstFiring(NPT_LEAF_RULES, { write: a.write, fetch: a.fetch, user, gmet: t.gmet, us, rw, xd });
      if (lr) return fail(lr, true);
      const shift = 12n + 9n * BigInt(level - 1);
      const frame = e & bits(51, Number(shift)) & pmask;
      return { ok: true, pa: frame | (gpa & ((1n << shift) - 1n)), ad };
    }
    tableBase = e & PTE64.ADDR_MASK & pmask;
    level -= 1;
    entryPa = tableBase + 8n * BigInt(ptIndex(gpa, level, 9));
  }
}

function eptTranslate(mem: PhysMem, t: Extract<NestedTdp, { kind: 'ept' }>, gpa: bigint, a: TdpAccess, opts: SpecOptions): TdpResult {
  const pmask = physAddrMask(t.maxphyaddr);
  const adOn = has(t.eptp, EPTP.AD_ENABLE);
  const levels = (t.eptp & EPTP.PWL_MASK) === EPTP.PWL_5 ? 5 : 4;
  const read = !a.write && !a.fetch;
  let r = true, w = true, x = true, ux = true;
  const ad: AdUpdate[] = [];
  const violation = (rule: RuleHead): TdpResult => {
    let q = 0n;
    // A paging-structure write (A/D update, or any access with EPTP.AD) is a read-modify-write: bits 0 and 1.
    if (a.write) q |= a.stage === 'page' ? 3n : 2n;
    else if (a.fetch) q |= 4n;
    else q |= 1n;
    if (r) q |= 1n << 3n;
    if (w) q |= 1n << 4n;
    if (x) q |= 1n << 5n;
    if (t.mbec && ux) q |= 1n << 6n;
    q |= 1n << 7n; // the walk is for a guest linear address
    if (a.stage === 'final') q |= 1n << 8n;
    let adv = 0n;
    if (t.advanced_exit_info && a.stage === 'final') {
      if (a.lin.us) adv |= 1n << 9n;
      if (a.lin.rw) adv |= 1n << 10n;
      if (a.lin.xd) adv |= 1n << 11n;
    }
    return { ok: false, kind: 'ept-violation', stage: a.stage, qual: q, qual_adv: adv, gpa, rule: rule.id };
  };
  let level = levels;
  let tableBase = t.eptp & EPTP.ADDR_MASK & pmask;
  for (;;) {
    const entryPa = tableBase + 8n * BigInt(ptIndex(gpa, level, 9));
    const e = read64(mem, entryPa);
    const leaf = level === 1 || ((level === 2 || level === 3) && has(e, EPTE.PS));
    // The not-present entry's bits join the AND too (they are 0), so qualification bits 3–6 read 0.
    r &&= has(e, EPTE.R);
    w &&= has(e, EPTE.W);
    x &&= has(e, EPTE.X);
    ux &&= has(e, EPTE.UX);
    const c: EptEntryCtx = {
      level, e, leaf, execonly: t.execonly, mbec: t.mbec, maxphyaddr: t.maxphyaddr,
      ept1g: opts.ept1g ?? true, ept2m: opts.ept2m ?? true,
    };
    const fired = firstFiring(EPT_ENTRY_RULES, c);
    if (fired) {
      if (fired.outcome === 'misconfig') return { ok: false, kind: 'ept-misconfig', stage: a.stage, gpa, rule: fired.id };
      return violation(fired);
    }
    if (adOn) {
      const want = EPTE.A | (leaf && a.write ? EPTE.D : 0n);
      if ((e & want) !== want) ad.push({ gpa: entryPa, set: want & ~e, width: 8, table: 'tdp' });
    }
    if (leaf) {
      const lr = firstFiring(EPT_LEAF_RULES, { read, write: a.write, fetch: a.fetch, userLinear: a.lin.us, mbec: t.mbec, r, w, x, ux });
      if (lr) return violation(lr);
      const shift = 12n + 9n * BigInt(level - 1);
      const frame = e & bits(51, Number(shift)) & pmask;
      return { ok: true, pa: frame | (gpa & ((1n << shift) - 1n)), ad };
    }
    tableBase = e & EPTE.ADDR_MASK & pmask;
    level -= 1;
  }
}

// ------------------------------------------------------------------------------------------------
// The guest (L2) walk.

export function guestMode(g: GuestPaging): GuestMode {
  if (!has(g.cr0, CR0_PG)) return 'none';
  if (has(g.efer, EFER_LMA)) return has(g.cr4, CR4_LA57) ? 'lm5' : 'lm4';
  return has(g.cr4, CR4_PAE) ? 'pae' : '32';
}

/**
 * The architectural outcome of translating `gva` for `access` under L2 paging `g` and L1's nested TDP
 * (null: no nested paging — the guest's physical addresses are L1 physical addresses). Pure: memory is
 * not modified; on success `ad_updates` lists the A/D bits the CPU sets (apply with applyAdUpdates).
 */
export function specWalk(
  mem: PhysMem, g: GuestPaging, tdp: NestedTdp | null, gva: bigint,
  access: { write: boolean; user: boolean; fetch: boolean; implicit: boolean }, opts: SpecOptions = {},
): SpecWalk {
  const mode = guestMode(g);
  const acc: SpecAccess = { ...access, write: access.write && !access.fetch };
  const um = acc.user && !acc.implicit;
  const nxe = has(g.efer, EFER_NXE);
  const epAdOn = tdp?.kind === 'ept' && has(tdp.eptp, EPTP.AD_ENABLE);
  const addr = lm(mode) ? BigInt.asUintN(64, gva) : BigInt.asUintN(32, gva);
  const ad: AdUpdate[] = [];

  const pfFetch = acc.fetch && (has(g.cr4, CR4_SMEP) || (mode !== '32' && mode !== 'none' && nxe));
  const pf = (rule: RuleHead): SpecWalk => {
    let ec = 0n;
    if (rule.outcome !== 'not-present') ec |= PFERR_MASK.P;
    if (rule.outcome === 'rsvd') ec |= PFERR_MASK.RSVD;
    if (rule.outcome === 'pk') ec |= PFERR_MASK.PK;
    if (acc.write) ec |= PFERR_MASK.W;
    if (um) ec |= PFERR_MASK.U;
    if (pfFetch) ec |= PFERR_MASK.FETCH;
    return { ok: false, kind: 'pf', error_code: ec, address: addr, rule: rule.id };
  };

  /** Nested check of a guest paging-structure access (L2 GPA `pa`); returns the L1 address or a fault. */
  const noLin = { us: false, rw: false, xd: false };
  const tableAccess = (pa: bigint, write: boolean): { pa: bigint } | SpecWalk => {
    if (!tdp) return { pa };
    const r = tdpTranslate(mem, tdp, pa, { write, fetch: false, stage: 'page', um, lin: noLin }, opts);
    if (!r.ok) return r;
    ad.push(...r.ad);
    return { pa: r.pa };
  };
  const isFault = (x: { pa: bigint } | SpecWalk): x is SpecWalk => 'ok' in x;

  let gpa: bigint;
  let pageSize = 0n;
  let lin = { us: false, rw: true, xd: false };
  if (mode === 'none') {
    gpa = addr;
  } else {
    const wide = mode !== '32';
    const bpl = wide ? 9 : 10;
    let level = mode === 'lm5' ? 5 : mode === 'lm4' ? 4 : mode === 'pae' ? 3 : 2;
    let us = true, rw = true, xd = false;
    let table = mode === '32' ? g.cr3 & CR3.ADDR_32 : g.cr3 & CR3.ADDR_64 & physAddrMask(g.maxphyaddr);
    let leafInfo: { e: bigint; level: number; l1pa: bigint; l2pa: bigint } | null = null;
    const pendingAd: { l2pa: bigint; l1pa: bigint; set: bigint }[] = [];
    for (;;) {
      let e: bigint;
      let entryL1: bigint | null = null;
      let entryGpa = -1n;
      const paePdpte = mode === 'pae' && level === 3;
      if (paePdpte && tdp?.kind !== 'npt') {
        // PAE without nested paging, or under EPT: the PDPTE registers (loaded at MOV CR3 / VM entry).
        e = BigInt.asUintN(64, g.pdptrs[paePdpteIndex(addr)] ?? 0n);
      } else {
        entryGpa = paePdpte
          ? (g.cr3 & CR3.ADDR_PAE) + 8n * BigInt(paePdpteIndex(addr))
          : table + BigInt(wide ? 8 : 4) * BigInt(ptIndex(addr, level, bpl));
        // Under NPT, AMD re-reads the guest PDPTEs through the nested tables on every walk.
        const t = tableAccess(entryGpa, epAdOn);
        if (isFault(t)) return t;
        entryL1 = t.pa;
        e = wide ? read64(mem, t.pa) : read32(mem, t.pa);
      }
      const ec: GuestEntryCtx = {
        mode, level, e, nxe, pse: has(g.cr4, CR4_PSE), pse36: g.pse36, maxphyaddr: g.maxphyaddr,
        gbpages: opts.gbpages ?? true,
      };
      const fired = firstFiring(GUEST_ENTRY_RULES, ec);
      if (fired) return pf(fired);
      if (!paePdpte) {
        rw &&= has(e, PTE64.RW);
        us &&= has(e, PTE64.US);
        if (wide) xd ||= nxe && has(e, PTE64.NX);
      }
      const leaf = level === 1 || (!paePdpte && (
        mode === '32' ? level === 2 && ec.pse && has(e, PTE32.PS) : (level === 2 || level === 3) && has(e, PTE64.PS)));
      if (leaf) {
        leafInfo = { e, level, l1pa: entryL1 ?? -1n, l2pa: entryGpa };
        break;
      }
      // Non-leaf A flags are set after the walk succeeds (below).
      if (!paePdpte && entryL1 !== null && !has(e, PTE64.A)) pendingAd.push({ l2pa: entryGpa, l1pa: entryL1, set: PTE64.A });
      table = wide ? e & PTE64.ADDR_MASK & physAddrMask(g.maxphyaddr) : e & PTE32.ADDR_MASK;
      level -= 1;
    }
    const { e, level: leafLevel } = leafInfo;
    const pkey = lm(mode) ? Number((e & PTE64.PKEY_MASK) >> PTE64.PKEY_SHIFT) : 0;
    const perm = firstFiring(GUEST_LEAF_RULES, { mode, g, acc, um, us, rw, xd, pkey });
    if (perm) {
      // PK is reported alongside any other protection fault when the key also denies (see deviations).
      const pkToo = perm.outcome !== 'pk' && GUEST_LEAF_RULES.some((r) => r.outcome === 'pk' && r.when({ mode, g, acc, um, us, rw, xd, pkey }));
      const f = pf(perm);
      if (pkToo && f.ok === false && f.kind === 'pf') f.error_code |= PFERR_MASK.PK;
      return f;
    }
    if (mode === '32') {
      if (leafLevel === 2) {
        const w = pse36Width(g.pse36, g.maxphyaddr);
        const hi = (e & bits(w - 20, 13)) >> 13n;
        gpa = (e & PTE32.ADDR_4M_MASK) | (hi << 32n) | (addr & bits(21, 0));
        pageSize = 1n << 22n;
      } else {
        gpa = (e & PTE32.ADDR_MASK) | (addr & 0xfffn);
        pageSize = 1n << 12n;
      }
    } else {
      const shift = 12n + 9n * BigInt(leafLevel - 1);
      gpa = (e & bits(51, Number(shift)) & physAddrMask(g.maxphyaddr)) | (addr & ((1n << shift) - 1n));
      pageSize = 1n << shift;
    }
    // A/D: once the walk and the permission check succeed, top-down, A on every level and D on the leaf
    // for a write. Each update is a write to the guest paging structure: without EPT A/D the table
    // access so far was a read, so the nested tables must now allow a write (nested fault otherwise).
    const want = PTE64.A | (acc.write ? PTE64.D : 0n);
    if ((e & want) !== want) pendingAd.push({ l2pa: leafInfo.l2pa, l1pa: leafInfo.l1pa, set: want & ~e });
    for (const u of pendingAd) {
      if (tdp && !epAdOn) {
        const t = tableAccess(u.l2pa, true);
        if (isFault(t)) return t;
      }
      ad.push({ gpa: u.l1pa, set: u.set, width: wide ? 8 : 4, table: 'guest' });
    }
    lin = { us, rw, xd };
  }

  let real = gpa;
  if (tdp) {
    const r = tdpTranslate(mem, tdp, gpa, { write: acc.write, fetch: acc.fetch, stage: 'final', um, lin }, opts);
    if (!r.ok) return r;
    ad.push(...r.ad);
    real = r.pa;
  }
  return { ok: true, gpa, real_gpa: real, page_size: pageSize, ad_updates: mergeAd(ad) };
}

/** One update per entry, bits ORed, in first-touch order. */
function mergeAd(ad: AdUpdate[]): AdUpdate[] {
  const out: AdUpdate[] = [];
  for (const u of ad) {
    const prev = out.find((o) => o.gpa === u.gpa && o.width === u.width && o.table === u.table);
    if (prev) prev.set |= u.set;
    else out.push({ ...u });
  }
  return out;
}

/** Applies a successful walk's A/D updates to memory (for building the expected post-walk memory). */
export function applyAdUpdates(mem: PhysMem, updates: readonly AdUpdate[]): void {
  for (const u of updates) {
    if (u.gpa < 0n || u.gpa + BigInt(u.width) > mem.ram_top) continue;
    const key = '0x' + (u.gpa & ~7n).toString(16);
    const shift = u.width === 4 && (u.gpa & 4n) !== 0n ? 32n : 0n;
    mem.words[key] = BigInt.asUintN(64, (mem.words[key] ?? 0n) | (u.set << shift));
  }
}
