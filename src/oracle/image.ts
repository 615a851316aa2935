// What the adapter puts in guest memory before the harness runs: the host page tables (which
// double as the identity NPT), L2's code snippets, GDT, IDTs and 32-bit page tables, and the
// zeroed IOPM/MSRPM. QEMU gets it written into its RAM file; Bochs loads it from its disk image.

import { LAYOUT } from './layout.ts';

/** A run of bytes at a guest-physical address. */
export interface Segment {
  gpa: number;
  bytes: Uint8Array;
}

/** P | RW | US: every entry user-accessible, since nested page walks are user accesses (APM 15.25.5). */
const PRESENT_RW_US = 0x7n;
/** 2 MiB leaf (PS). */
const PS = 0x80n;

function u64le(buf: DataView, off: number, v: bigint): void {
  buf.setBigUint64(off, v, true);
}

/** PML4 → PDPT → 4 PDs identity-mapping the first 4 GiB with 2 MiB pages. */
function hostTables(): Segment {
  const bytes = new Uint8Array(6 * 0x1000);
  const dv = new DataView(bytes.buffer);
  const base = BigInt(LAYOUT.HOST_PML4);
  u64le(dv, 0, (base + 0x1000n) | PRESENT_RW_US);
  for (let i = 0; i < 4; i++) u64le(dv, 0x1000 + i * 8, (base + BigInt(0x2000 + i * 0x1000)) | PRESENT_RW_US);
  for (let pd = 0; pd < 4; pd++)
    for (let e = 0; e < 512; e++) u64le(dv, 0x2000 + pd * 0x1000 + e * 8, (BigInt(pd * 512 + e) << 21n) | PS | PRESENT_RW_US);
  return { gpa: LAYOUT.HOST_PML4, bytes };
}

/**
 * L2 code: one snippet per 16 bytes from GUEST_CODE, each ending in HLT; JMP $ so a guest whose
 * HLT is not intercepted cannot run off. The same bytes decode alike in 16/32/64-bit code.
 */
export const GUEST_SNIPPETS = {
  vmmcall: [0x0f, 0x01, 0xd9],
  hlt: [],
  cpuid: [0x0f, 0xa2],
  ud2: [0x0f, 0x0b],
  int3: [0xcc],
  nop: [0x90, 0x0f, 0x01, 0xd9],
} as const satisfies Record<string, readonly number[]>;
export type GuestSnippet = keyof typeof GUEST_SNIPPETS;
export const GUEST_SNIPPET_NAMES = Object.keys(GUEST_SNIPPETS) as GuestSnippet[];

export function snippetRip(name: GuestSnippet): number {
  return LAYOUT.GUEST_CODE + 16 * GUEST_SNIPPET_NAMES.indexOf(name);
}

function guestCode(): Segment {
  const bytes = new Uint8Array(0x1000).fill(0xf4);
  GUEST_SNIPPET_NAMES.forEach((name, k) => {
    const code = [...GUEST_SNIPPETS[name], 0xf4, 0xeb, 0xfe];
    bytes.set(code, 16 * k);
  });
  return { gpa: LAYOUT.GUEST_CODE, bytes };
}

/** Selectors of the L2 GDT. */
export const GUEST_SEL = { CODE64: 0x08, DATA: 0x10, CODE32: 0x18 } as const;

function guestGdt(): Segment {
  const bytes = new Uint8Array(32);
  const dv = new DataView(bytes.buffer);
  u64le(dv, 8, 0x00af9a000000ffffn);
  u64le(dv, 16, 0x00cf92000000ffffn);
  u64le(dv, 24, 0x00cf9a000000ffffn);
  return { gpa: LAYOUT.GUEST_GDT, bytes };
}

/** The IDT a state with this snippet uses: every vector runs the snippet again (see guestIdts). */
export function snippetIdt(name: GuestSnippet, long: boolean): number {
  return (long ? LAYOUT.GUEST_IDT64 : LAYOUT.GUEST_IDT32) + 0x1000 * GUEST_SNIPPET_NAMES.indexOf(name);
}

/**
 * One IDT pair per snippet whose every gate points at that snippet: an event injected into L2
 * (APM 15.20) is delivered and L2 then runs the same instruction the engine's program starts
 * with, so the engine needs no model of the guest's handlers.
 */
function guestIdts(): Segment[] {
  return GUEST_SNIPPET_NAMES.flatMap((name) => snippetIdtPair(name));
}

function snippetIdtPair(name: GuestSnippet): Segment[] {
  const h = snippetRip(name);
  const idt64 = new Uint8Array(256 * 16);
  const d64 = new DataView(idt64.buffer);
  const idt32 = new Uint8Array(256 * 8);
  const d32 = new DataView(idt32.buffer);
  for (let v = 0; v < 256; v++) {
    d64.setUint16(v * 16, h & 0xffff, true);
    d64.setUint16(v * 16 + 2, GUEST_SEL.CODE64, true);
    d64.setUint16(v * 16 + 4, 0x8e00, true);
    d64.setUint16(v * 16 + 6, h >>> 16, true);
    d32.setUint16(v * 8, h & 0xffff, true);
    d32.setUint16(v * 8 + 2, GUEST_SEL.CODE32, true);
    d32.setUint16(v * 8 + 4, 0x8e00, true);
    d32.setUint16(v * 8 + 6, h >>> 16, true);
  }
  return [
    { gpa: snippetIdt(name, true), bytes: idt64 },
    { gpa: snippetIdt(name, false), bytes: idt32 },
  ];
}

/** 32-bit paging for L2: PDE 2 → a page table identity-mapping 8..12 MiB (code, tables, stack). */
function guestPaging32(): Segment[] {
  const pd = new Uint8Array(0x1000);
  new DataView(pd.buffer).setUint32(2 * 4, LAYOUT.GUEST_PT32 | 0x7, true);
  const pt = new Uint8Array(0x1000);
  const dpt = new DataView(pt.buffer);
  for (let i = 0; i < 1024; i++) dpt.setUint32(i * 4, (0x800000 + i * 0x1000) | 0x7, true);
  return [
    { gpa: LAYOUT.GUEST_PD32, bytes: pd },
    { gpa: LAYOUT.GUEST_PT32, bytes: pt },
  ];
}

/**
 * L1's nested page tables for L2, one set per variant: the identity map of the first GiB with one
 * 4 KiB page changed, so a state that selects a variant by its nCR3 makes L2's first translation
 * fault in L1's NPT at a known step (APM 15.25.6): the code page or one of L2's own paging
 * structures not present, or the code page's entry with a reserved bit (NX with L1's EFER.NXE
 * clear; a bit above MAXPHYADDR) or without U (nested walks are user accesses, APM 15.25.5).
 */
export const NPT_VARIANTS = {
  'code-absent': { page: () => LAYOUT.GUEST_CODE, entry: (e: bigint) => e & ~1n },
  'pd32-absent': { page: () => LAYOUT.GUEST_PD32, entry: (e: bigint) => e & ~1n },
  'pt32-absent': { page: () => LAYOUT.GUEST_PT32, entry: (e: bigint) => e & ~1n },
  'pml4-absent': { page: () => LAYOUT.HOST_PML4, entry: (e: bigint) => e & ~1n },
  'code-nx': { page: () => LAYOUT.GUEST_CODE, entry: (e: bigint) => e | (1n << 63n) },
  'code-rsvd': { page: () => LAYOUT.GUEST_CODE, entry: (e: bigint) => e | (1n << 51n) },
  'code-supervisor': { page: () => LAYOUT.GUEST_CODE, entry: (e: bigint) => e & ~4n },
} as const satisfies Record<string, { page: () => number; entry: (e: bigint) => bigint }>;
export type NptVariant = keyof typeof NPT_VARIANTS;
export const NPT_VARIANT_NAMES = Object.keys(NPT_VARIANTS) as NptVariant[];

/** nCR3 of a variant (16 KiB apart from NPT_SETS). */
export function nptVariantRoot(v: NptVariant): number {
  return LAYOUT.NPT_SETS + 0x4000 * NPT_VARIANT_NAMES.indexOf(v);
}

function nptVariant(v: NptVariant): Segment {
  const root = nptVariantRoot(v);
  const bytes = new Uint8Array(0x4000);
  const dv = new DataView(bytes.buffer);
  const target = NPT_VARIANTS[v].page();
  const region = Math.floor(target / 0x200000);
  u64le(dv, 0, BigInt(root + 0x1000) | PRESENT_RW_US);
  u64le(dv, 0x1000, BigInt(root + 0x2000) | PRESENT_RW_US);
  for (let e = 0; e < 512; e++) u64le(dv, 0x2000 + e * 8, (BigInt(e) << 21n) | PS | PRESENT_RW_US);
  u64le(dv, 0x2000 + region * 8, BigInt(root + 0x3000) | PRESENT_RW_US);
  for (let e = 0; e < 512; e++) {
    const gpa = region * 0x200000 + e * 0x1000;
    const pte = BigInt(gpa) | PRESENT_RW_US;
    u64le(dv, 0x3000 + e * 8, gpa === target ? NPT_VARIANTS[v].entry(pte) : pte);
  }
  return { gpa: root, bytes };
}

/**
 * The VMX harness's identity EPT (SDM 29.3.2): PML4 → PDPT → 4 PDs with 2 MiB leaves, each RWX
 * (bits 2:0) and memory type WB (bits 5:3 = 6). Non-leaf entries have bits 7:3 clear, as the SDM
 * requires; the host tables (whose leaves say UC) gave Bochs EPT misconfigurations.
 */
function eptIdentity(): Segment {
  const bytes = new Uint8Array(6 * 0x1000);
  const dv = new DataView(bytes.buffer);
  const base = BigInt(LAYOUT.EPT_PML4);
  const RWX = 0x7n;
  const LEAF_WB = 0x80n | (6n << 3n) | RWX;
  u64le(dv, 0, (base + 0x1000n) | RWX);
  for (let i = 0; i < 4; i++) u64le(dv, 0x1000 + i * 8, (base + BigInt(0x2000 + i * 0x1000)) | RWX);
  for (let pd = 0; pd < 4; pd++)
    for (let e = 0; e < 512; e++) u64le(dv, 0x2000 + pd * 0x1000 + e * 8, (BigInt(pd * 512 + e) << 21n) | LEAF_WB);
  return { gpa: LAYOUT.EPT_PML4, bytes };
}

/** The fixed part of guest memory every SVM/VMX batch shares. */
export function staticImage(): Segment[] {
  return [
    hostTables(), guestCode(), guestGdt(), ...guestIdts(), ...guestPaging32(),
    ...NPT_VARIANT_NAMES.map(nptVariant),
    { gpa: LAYOUT.IOPM_PA, bytes: new Uint8Array(0x5000) },
  ];
}

/** The VMX harness's memory: the shared image plus its identity EPT (the SVM image stays as it was). */
export function vmxStaticImage(): Segment[] {
  return [...staticImage(), eptIdentity()];
}

/**
 * A VMX reproducer's memory (export/vmxImage.ts): the host tables, L2's code, the 64-bit IDT of the
 * state's snippet and the identity EPT. Nothing a VMX state cannot reach (NPT sets, 32-bit tables,
 * other snippets' IDTs), so the image stays under the 128 KiB Bochs loads as option RAM (oracle.md §4.2).
 */
export function vmxReproImage(snippet: GuestSnippet): Segment[] {
  return [hostTables(), guestCode(), snippetIdtPair(snippet)[0], eptIdentity()];
}

/**
 * The batch header at INPUT_HDR: magic, count, start index, and how many states are in place
 * (all of them unless the adapter streams them in, qemu.ts).
 */
export function inputHeader(count: number, start: number, ready = count): Segment {
  const bytes = new Uint8Array(16);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, LAYOUT.INPUT_MAGIC, true);
  dv.setUint32(4, count, true);
  dv.setUint32(8, start, true);
  dv.setUint32(12, ready, true);
  return { gpa: LAYOUT.INPUT_HDR, bytes };
}
