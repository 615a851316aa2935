// VMCB <-> 4 KiB page, little-endian at the APM vol. 2 Appendix B offsets (see layout.ts, which
// is the table this code must match; tests/arch/svm/codec.spec.ts checks every row against it).
// Straight-line DataView reads on purpose: decodeVmcb runs in the fuzzer's hot loop.
//
// Note, encoding truncates each value to its field width (u64 modulo 2^64, u32/u16/u8 modulo
// 2^32/2^16/2^8), so decode(encode(v)) equals v only when every value fits its field.

import type { Vmcb, VmcbControl, VmcbSave, VmcbSeg } from './vmcb.ts';
import { VMCB_CONTROL_AREA_SIZE, VMCB_DEFINED_BYTES, VMCB_PAGE_SIZE } from './layout.ts';

const LE = true;

/** A view of the first 4096 bytes; shorter input is copied into a zeroed page first. */
function pageView(page: Uint8Array): DataView {
  if (page.byteLength >= VMCB_PAGE_SIZE) return new DataView(page.buffer, page.byteOffset, VMCB_PAGE_SIZE);
  const full = new Uint8Array(VMCB_PAGE_SIZE);
  full.set(page);
  return new DataView(full.buffer);
}

function writableView(fn: string, page: Uint8Array, need: number): DataView {
  if (page.byteLength < need) throw new RangeError(`${fn}: page is ${page.byteLength} bytes, need ${need}`);
  return new DataView(page.buffer, page.byteOffset, need);
}

// ---------------------------------------------------------------------------------------------
// decode

/** struct vmcb_seg: selector u16 @+0, attrib u16 @+2, limit u32 @+4, base u64 @+8. */
function readSeg(dv: DataView, off: number): VmcbSeg {
  return {
    selector: dv.getUint16(off, LE),
    attrib: dv.getUint16(off + 2, LE),
    limit: dv.getUint32(off + 4, LE),
    base: dv.getBigUint64(off + 8, LE),
  };
}

/** APM table B-1 (struct vmcb_control_area). */
function readControl(dv: DataView): VmcbControl {
  return {
    intercepts: [
      dv.getUint32(0x000, LE), dv.getUint32(0x004, LE), dv.getUint32(0x008, LE),
      dv.getUint32(0x00c, LE), dv.getUint32(0x010, LE), dv.getUint32(0x014, LE),
    ],
    pause_filter_thresh: dv.getUint16(0x03c, LE),
    pause_filter_count: dv.getUint16(0x03e, LE),
    iopm_base_pa: dv.getBigUint64(0x040, LE),
    msrpm_base_pa: dv.getBigUint64(0x048, LE),
    tsc_offset: dv.getBigUint64(0x050, LE),
    asid: dv.getUint32(0x058, LE),
    tlb_ctl: dv.getUint8(0x05c),
    erap_ctl: dv.getUint8(0x05d),
    int_ctl: dv.getUint32(0x060, LE),
    int_vector: dv.getUint32(0x064, LE),
    int_state: dv.getUint32(0x068, LE),
    exit_code: dv.getBigUint64(0x070, LE),
    exit_info_1: dv.getBigUint64(0x078, LE),
    exit_info_2: dv.getBigUint64(0x080, LE),
    exit_int_info: dv.getUint32(0x088, LE),
    exit_int_info_err: dv.getUint32(0x08c, LE),
    misc_ctl: dv.getBigUint64(0x090, LE),
    avic_vapic_bar: dv.getBigUint64(0x098, LE),
    ghcb_gpa: dv.getBigUint64(0x0a0, LE),
    event_inj: dv.getUint32(0x0a8, LE),
    event_inj_err: dv.getUint32(0x0ac, LE),
    nested_cr3: dv.getBigUint64(0x0b0, LE),
    misc_ctl2: dv.getBigUint64(0x0b8, LE),
    clean: dv.getUint32(0x0c0, LE),
    next_rip: dv.getBigUint64(0x0c8, LE),
    insn_len: dv.getUint8(0x0d0),
    insn_bytes: [
      dv.getUint8(0x0d1), dv.getUint8(0x0d2), dv.getUint8(0x0d3), dv.getUint8(0x0d4), dv.getUint8(0x0d5),
      dv.getUint8(0x0d6), dv.getUint8(0x0d7), dv.getUint8(0x0d8), dv.getUint8(0x0d9), dv.getUint8(0x0da),
      dv.getUint8(0x0db), dv.getUint8(0x0dc), dv.getUint8(0x0dd), dv.getUint8(0x0de), dv.getUint8(0x0df),
    ],
    avic_backing_page: dv.getBigUint64(0x0e0, LE),
    avic_logical_id: dv.getBigUint64(0x0f0, LE),
    avic_physical_id: dv.getBigUint64(0x0f8, LE),
    vmsa_pa: dv.getBigUint64(0x108, LE),
    bus_lock_counter: dv.getUint16(0x120, LE),
    allowed_sev_features: dv.getBigUint64(0x138, LE),
    guest_sev_features: dv.getBigUint64(0x140, LE),
  };
}

/** APM table B-2 (struct vmcb_save_area at VMCB offset 0x400). */
function readSave(dv: DataView): VmcbSave {
  return {
    es: readSeg(dv, 0x400),
    cs: readSeg(dv, 0x410),
    ss: readSeg(dv, 0x420),
    ds: readSeg(dv, 0x430),
    fs: readSeg(dv, 0x440),
    gs: readSeg(dv, 0x450),
    gdtr: readSeg(dv, 0x460),
    ldtr: readSeg(dv, 0x470),
    idtr: readSeg(dv, 0x480),
    tr: readSeg(dv, 0x490),
    vmpl: dv.getUint8(0x4ca),
    cpl: dv.getUint8(0x4cb),
    efer: dv.getBigUint64(0x4d0, LE),
    cr4: dv.getBigUint64(0x548, LE),
    cr3: dv.getBigUint64(0x550, LE),
    cr0: dv.getBigUint64(0x558, LE),
    dr7: dv.getBigUint64(0x560, LE),
    dr6: dv.getBigUint64(0x568, LE),
    rflags: dv.getBigUint64(0x570, LE),
    rip: dv.getBigUint64(0x578, LE),
    rsp: dv.getBigUint64(0x5d8, LE),
    s_cet: dv.getBigUint64(0x5e0, LE),
    ssp: dv.getBigUint64(0x5e8, LE),
    isst_addr: dv.getBigUint64(0x5f0, LE),
    rax: dv.getBigUint64(0x5f8, LE),
    star: dv.getBigUint64(0x600, LE),
    lstar: dv.getBigUint64(0x608, LE),
    cstar: dv.getBigUint64(0x610, LE),
    sfmask: dv.getBigUint64(0x618, LE),
    kernel_gs_base: dv.getBigUint64(0x620, LE),
    sysenter_cs: dv.getBigUint64(0x628, LE),
    sysenter_esp: dv.getBigUint64(0x630, LE),
    sysenter_eip: dv.getBigUint64(0x638, LE),
    cr2: dv.getBigUint64(0x640, LE),
    g_pat: dv.getBigUint64(0x668, LE),
    dbgctl: dv.getBigUint64(0x670, LE),
    br_from: dv.getBigUint64(0x678, LE),
    br_to: dv.getBigUint64(0x680, LE),
    last_excp_from: dv.getBigUint64(0x688, LE),
    last_excp_to: dv.getBigUint64(0x690, LE),
    spec_ctrl: dv.getBigUint64(0x6e0, LE),
  };
}

/**
 * Decode a VMCB page. Reads exactly the fields of layout.ts; reserved bytes are ignored. Never
 * throws: input shorter than 4096 bytes reads as if zero-padded, bytes past 4096 are ignored.
 */
export function decodeVmcb(page: Uint8Array): Vmcb {
  const dv = pageView(page);
  return { control: readControl(dv), save: readSave(dv) };
}

/** Control area only (bytes 0x000-0x3FF), same rules as decodeVmcb. */
export function decodeControl(page: Uint8Array): VmcbControl {
  return readControl(pageView(page));
}

/** State save area only (bytes 0x400-0xFFF), same rules as decodeVmcb. */
export function decodeSave(page: Uint8Array): VmcbSave {
  return readSave(pageView(page));
}

// ---------------------------------------------------------------------------------------------
// encode

function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

function writeSeg(dv: DataView, off: number, s: VmcbSeg): void {
  dv.setUint16(off, s.selector, LE);
  dv.setUint16(off + 2, s.attrib, LE);
  dv.setUint32(off + 4, s.limit, LE);
  dv.setBigUint64(off + 8, u64(s.base), LE);
}

function writeControl(dv: DataView, c: VmcbControl): void {
  for (let i = 0; i < 6; i++) dv.setUint32(4 * i, c.intercepts[i] ?? 0, LE);
  dv.setUint16(0x03c, c.pause_filter_thresh, LE);
  dv.setUint16(0x03e, c.pause_filter_count, LE);
  dv.setBigUint64(0x040, u64(c.iopm_base_pa), LE);
  dv.setBigUint64(0x048, u64(c.msrpm_base_pa), LE);
  dv.setBigUint64(0x050, u64(c.tsc_offset), LE);
  dv.setUint32(0x058, c.asid, LE);
  dv.setUint8(0x05c, c.tlb_ctl);
  dv.setUint8(0x05d, c.erap_ctl);
  dv.setUint32(0x060, c.int_ctl, LE);
  dv.setUint32(0x064, c.int_vector, LE);
  dv.setUint32(0x068, c.int_state, LE);
  dv.setBigUint64(0x070, u64(c.exit_code), LE);
  dv.setBigUint64(0x078, u64(c.exit_info_1), LE);
  dv.setBigUint64(0x080, u64(c.exit_info_2), LE);
  dv.setUint32(0x088, c.exit_int_info, LE);
  dv.setUint32(0x08c, c.exit_int_info_err, LE);
  dv.setBigUint64(0x090, u64(c.misc_ctl), LE);
  dv.setBigUint64(0x098, u64(c.avic_vapic_bar), LE);
  dv.setBigUint64(0x0a0, u64(c.ghcb_gpa), LE);
  dv.setUint32(0x0a8, c.event_inj, LE);
  dv.setUint32(0x0ac, c.event_inj_err, LE);
  dv.setBigUint64(0x0b0, u64(c.nested_cr3), LE);
  dv.setBigUint64(0x0b8, u64(c.misc_ctl2), LE);
  dv.setUint32(0x0c0, c.clean, LE);
  dv.setBigUint64(0x0c8, u64(c.next_rip), LE);
  dv.setUint8(0x0d0, c.insn_len);
  for (let i = 0; i < 15; i++) dv.setUint8(0x0d1 + i, c.insn_bytes[i] ?? 0);
  dv.setBigUint64(0x0e0, u64(c.avic_backing_page), LE);
  dv.setBigUint64(0x0f0, u64(c.avic_logical_id), LE);
  dv.setBigUint64(0x0f8, u64(c.avic_physical_id), LE);
  dv.setBigUint64(0x108, u64(c.vmsa_pa), LE);
  dv.setUint16(0x120, c.bus_lock_counter, LE);
  dv.setBigUint64(0x138, u64(c.allowed_sev_features), LE);
  dv.setBigUint64(0x140, u64(c.guest_sev_features), LE);
}

function writeSave(dv: DataView, s: VmcbSave): void {
  writeSeg(dv, 0x400, s.es);
  writeSeg(dv, 0x410, s.cs);
  writeSeg(dv, 0x420, s.ss);
  writeSeg(dv, 0x430, s.ds);
  writeSeg(dv, 0x440, s.fs);
  writeSeg(dv, 0x450, s.gs);
  writeSeg(dv, 0x460, s.gdtr);
  writeSeg(dv, 0x470, s.ldtr);
  writeSeg(dv, 0x480, s.idtr);
  writeSeg(dv, 0x490, s.tr);
  dv.setUint8(0x4ca, s.vmpl);
  dv.setUint8(0x4cb, s.cpl);
  dv.setBigUint64(0x4d0, u64(s.efer), LE);
  dv.setBigUint64(0x548, u64(s.cr4), LE);
  dv.setBigUint64(0x550, u64(s.cr3), LE);
  dv.setBigUint64(0x558, u64(s.cr0), LE);
  dv.setBigUint64(0x560, u64(s.dr7), LE);
  dv.setBigUint64(0x568, u64(s.dr6), LE);
  dv.setBigUint64(0x570, u64(s.rflags), LE);
  dv.setBigUint64(0x578, u64(s.rip), LE);
  dv.setBigUint64(0x5d8, u64(s.rsp), LE);
  dv.setBigUint64(0x5e0, u64(s.s_cet), LE);
  dv.setBigUint64(0x5e8, u64(s.ssp), LE);
  dv.setBigUint64(0x5f0, u64(s.isst_addr), LE);
  dv.setBigUint64(0x5f8, u64(s.rax), LE);
  dv.setBigUint64(0x600, u64(s.star), LE);
  dv.setBigUint64(0x608, u64(s.lstar), LE);
  dv.setBigUint64(0x610, u64(s.cstar), LE);
  dv.setBigUint64(0x618, u64(s.sfmask), LE);
  dv.setBigUint64(0x620, u64(s.kernel_gs_base), LE);
  dv.setBigUint64(0x628, u64(s.sysenter_cs), LE);
  dv.setBigUint64(0x630, u64(s.sysenter_esp), LE);
  dv.setBigUint64(0x638, u64(s.sysenter_eip), LE);
  dv.setBigUint64(0x640, u64(s.cr2), LE);
  dv.setBigUint64(0x668, u64(s.g_pat), LE);
  dv.setBigUint64(0x670, u64(s.dbgctl), LE);
  dv.setBigUint64(0x678, u64(s.br_from), LE);
  dv.setBigUint64(0x680, u64(s.br_to), LE);
  dv.setBigUint64(0x688, u64(s.last_excp_from), LE);
  dv.setBigUint64(0x690, u64(s.last_excp_to), LE);
  dv.setBigUint64(0x6e0, u64(s.spec_ctrl), LE);
}

/** Encode into a fresh 4096-byte page; every reserved byte is zero. */
export function encodeVmcb(v: Vmcb): Uint8Array {
  const page = new Uint8Array(VMCB_PAGE_SIZE);
  const dv = new DataView(page.buffer);
  writeControl(dv, v.control);
  writeSave(dv, v.save);
  return page;
}

/**
 * Encode the control and save areas into the first VMCB_DEFINED_BYTES of `dst`, which the caller
 * has zeroed: an oracle batch writes 50,000 states straight into the emulator's input this way
 * instead of allocating a page each. Throws a RangeError on a shorter `dst` (a caller bug).
 */
export function encodeVmcbInto(dst: Uint8Array, v: Vmcb): void {
  const dv = writableView('encodeVmcbInto', dst, VMCB_DEFINED_BYTES);
  writeControl(dv, v.control);
  writeSave(dv, v.save);
}

/**
 * Write the control-area fields into an existing page (at least 0x400 bytes). Reserved bytes
 * are left as they are, so a caller can write back the control area of a page it decoded.
 * Throws a RangeError on a page that is too short (a caller bug, not an input condition).
 */
export function encodeControlInto(page: Uint8Array, control: VmcbControl): void {
  writeControl(writableView('encodeControlInto', page, VMCB_CONTROL_AREA_SIZE), control);
}

/** Write the save-area fields into an existing 4096-byte page; reserved bytes are left alone. */
export function encodeSaveInto(page: Uint8Array, save: VmcbSave): void {
  writeSave(writableView('encodeSaveInto', page, VMCB_PAGE_SIZE), save);
}
