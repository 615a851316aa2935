import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeControl, decodeSave, decodeVmcb, encodeControlInto, encodeSaveInto, encodeVmcb,
} from '../../../src/arch/svm/codec.ts';
import { VMCB_FIELDS, VMCB_SEG_FIELDS, vmcbFieldMask } from '../../../src/arch/svm/layout.ts';
import { zeroVmcb, type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import { distinctVmcb, readLE } from './helpers.ts';

const page4k = fc.uint8Array({ minLength: 4096, maxLength: 4096 });

/** The value of a layout field in a decoded VMCB, as a list of bigints (one per element). */
function fieldValues(v: Vmcb, f: (typeof VMCB_FIELDS)[number]): bigint[] {
  if (f.kind === 'seg') {
    const s = v.save[f.name];
    return [BigInt(s.selector), BigInt(s.attrib), BigInt(s.limit), s.base];
  }
  if (f.kind === 'array') return v.control[f.name].map(BigInt);
  return [BigInt(f.area === 'control' ? v.control[f.name] : v.save[f.name])];
}

describe('codec', () => {
  describe('encodeVmcb', () => {
    it('should put every field little-endian at its APM offset', () => {
      const v = distinctVmcb();
      v.control.exit_code = 0x1122334455667788n;
      v.save.efer = 0x1d01n; // SCE LME LMA NX SVME
      const p = encodeVmcb(v);
      const c = v.control;
      const s = v.save;
      expect(p.length).toBe(4096);
      // Control area, APM table B-1 (offsets written out here, not taken from layout.ts).
      for (let i = 0; i < 6; i++) expect(readLE(p, 4 * i, 4)).toBe(BigInt(c.intercepts[i]));
      const control: [number, number, number | bigint][] = [
        [0x03c, 2, c.pause_filter_thresh], [0x03e, 2, c.pause_filter_count], [0x040, 8, c.iopm_base_pa],
        [0x048, 8, c.msrpm_base_pa], [0x050, 8, c.tsc_offset], [0x058, 4, c.asid], [0x05c, 1, c.tlb_ctl],
        [0x05d, 1, c.erap_ctl], [0x060, 4, c.int_ctl], [0x064, 4, c.int_vector], [0x068, 4, c.int_state],
        [0x070, 8, c.exit_code], [0x078, 8, c.exit_info_1], [0x080, 8, c.exit_info_2],
        [0x088, 4, c.exit_int_info], [0x08c, 4, c.exit_int_info_err], [0x090, 8, c.misc_ctl],
        [0x098, 8, c.avic_vapic_bar], [0x0a0, 8, c.ghcb_gpa], [0x0a8, 4, c.event_inj],
        [0x0ac, 4, c.event_inj_err], [0x0b0, 8, c.nested_cr3], [0x0b8, 8, c.misc_ctl2], [0x0c0, 4, c.clean],
        [0x0c8, 8, c.next_rip], [0x0d0, 1, c.insn_len], [0x0e0, 8, c.avic_backing_page],
        [0x0f0, 8, c.avic_logical_id], [0x0f8, 8, c.avic_physical_id], [0x108, 8, c.vmsa_pa],
        [0x120, 2, c.bus_lock_counter], [0x138, 8, c.allowed_sev_features], [0x140, 8, c.guest_sev_features],
      ];
      for (const [off, w, val] of control) expect(readLE(p, off, w), `0x${off.toString(16)}`).toBe(BigInt(val));
      expect([...p.subarray(0x0d1, 0x0e0)]).toEqual(c.insn_bytes);
      // exit_code is one u64: the high half sits at 0x074 (old exit_code_hi).
      expect([...p.subarray(0x070, 0x078)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
      // Save area, APM table B-2.
      const segs = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'gdtr', 'ldtr', 'idtr', 'tr'] as const;
      segs.forEach((n, i) => {
        const off = 0x400 + 16 * i;
        expect(readLE(p, off, 2), n).toBe(BigInt(s[n].selector));
        expect(readLE(p, off + 2, 2), n).toBe(BigInt(s[n].attrib));
        expect(readLE(p, off + 4, 4), n).toBe(BigInt(s[n].limit));
        expect(readLE(p, off + 8, 8), n).toBe(s[n].base);
      });
      expect(p[0x4ca]).toBe(s.vmpl);
      expect(p[0x4cb]).toBe(s.cpl);
      expect([p[0x4cf], p[0x4d0], p[0x4d1], p[0x4d2]]).toEqual([0x00, 0x01, 0x1d, 0x00]);
      const save: [number, bigint][] = [
        [0x4d0, s.efer], [0x548, s.cr4], [0x550, s.cr3], [0x558, s.cr0], [0x560, s.dr7], [0x568, s.dr6],
        [0x570, s.rflags], [0x578, s.rip], [0x5d8, s.rsp], [0x5e0, s.s_cet], [0x5e8, s.ssp],
        [0x5f0, s.isst_addr], [0x5f8, s.rax], [0x600, s.star], [0x608, s.lstar], [0x610, s.cstar],
        [0x618, s.sfmask], [0x620, s.kernel_gs_base], [0x628, s.sysenter_cs], [0x630, s.sysenter_esp],
        [0x638, s.sysenter_eip], [0x640, s.cr2], [0x668, s.g_pat], [0x670, s.dbgctl], [0x678, s.br_from],
        [0x680, s.br_to], [0x688, s.last_excp_from], [0x690, s.last_excp_to], [0x6e0, s.spec_ctrl],
      ];
      for (const [off, val] of save) expect(readLE(p, off, 8), `0x${off.toString(16)}`).toBe(val);
    });

    it('should leave every reserved byte zero', () => {
      const p = encodeVmcb(distinctVmcb());
      const mask = vmcbFieldMask();
      const dirty = [...p.keys()].filter((i) => mask[i] === 0 && p[i] !== 0);
      expect(dirty).toEqual([]);
    });

    it('should truncate out-of-range values to the field width instead of throwing', () => {
      const v = zeroVmcb();
      v.control.exit_code = -1n;
      v.control.tlb_ctl = 0x1ff;
      v.save.rip = 1n << 64n;
      const d = decodeVmcb(encodeVmcb(v));
      expect(d.control.exit_code).toBe(0xffffffffffffffffn);
      expect(d.control.tlb_ctl).toBe(0xff);
      expect(d.save.rip).toBe(0n);
    });
  });

  describe('decodeVmcb', () => {
    it('should read back what encodeVmcb wrote', () => {
      const v = distinctVmcb();
      expect(decodeVmcb(encodeVmcb(v))).toEqual(v);
    });

    it('should map the bytes of each layout row to that field and no other', () => {
      for (const f of VMCB_FIELDS) {
        const page = new Uint8Array(4096);
        page.fill(0xff, f.offset, f.offset + f.width);
        const d = decodeVmcb(page);
        for (const g of VMCB_FIELDS) {
          const vals = fieldValues(d, g);
          if (g === f) {
            const widths = g.kind === 'seg' ? VMCB_SEG_FIELDS.map((x) => x.width) : g.kind === 'array' ? new Array(g.count).fill(g.elemWidth) : [g.width];
            expect(vals, `${g.area}.${g.name}`).toEqual(widths.map((w) => (1n << BigInt(8 * w)) - 1n));
          } else {
            expect(vals.every((x) => x === 0n), `${f.name} leaked into ${g.area}.${g.name}`).toBe(true);
          }
        }
      }
    });

    it('should treat missing bytes of a short page as zero and ignore bytes past 4096', () => {
      const full = encodeVmcb(distinctVmcb());
      const short = full.slice(0, 0x4d4);
      const d = decodeVmcb(short);
      expect(d.save.cpl).toBe(full[0x4cb]);
      expect(d.save.efer).toBe(readLE(full, 0x4d0, 4));
      expect(d.save.cr0).toBe(0n);
      const long = new Uint8Array(8192);
      long.set(full);
      long.fill(0xee, 4096);
      expect(decodeVmcb(long)).toEqual(decodeVmcb(full));
      expect(decodeVmcb(new Uint8Array(0))).toEqual(zeroVmcb());
    });

    it('should respect the byteOffset of a subarray', () => {
      const buf = new Uint8Array(4096 + 16);
      buf.set(encodeVmcb(distinctVmcb()), 16);
      expect(decodeVmcb(buf.subarray(16))).toEqual(distinctVmcb());
    });

    it('should never throw on an arbitrary page', () => {
      fc.assert(fc.property(page4k, (bytes) => { decodeVmcb(bytes); }));
      fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => { decodeVmcb(bytes); }));
    });

    it('should be a fixed point after one round: decode(encode(decode(b))) = decode(b)', () => {
      fc.assert(fc.property(page4k, (bytes) => {
        const d = decodeVmcb(bytes);
        expect(decodeVmcb(encodeVmcb(d))).toEqual(d);
      }));
    });

    it('should lose only reserved bytes: encode(decode(b)) = b on every field byte, 0 elsewhere', () => {
      const mask = vmcbFieldMask();
      fc.assert(fc.property(page4k, (bytes) => {
        const out = encodeVmcb(decodeVmcb(bytes));
        for (let i = 0; i < 4096; i++) {
          if (out[i] !== (mask[i] ? bytes[i] : 0)) throw new Error(`byte 0x${i.toString(16)} differs`);
        }
      }));
    });
  });

  describe('decodeControl / decodeSave', () => {
    it('should match the halves of decodeVmcb', () => {
      fc.assert(fc.property(page4k, (bytes) => {
        const d = decodeVmcb(bytes);
        expect(decodeControl(bytes)).toEqual(d.control);
        expect(decodeSave(bytes)).toEqual(d.save);
      }), { numRuns: 20 });
    });
  });

  describe('encodeControlInto / encodeSaveInto', () => {
    it('should rewrite field bytes and leave reserved bytes alone', () => {
      fc.assert(fc.property(page4k, (bytes) => {
        const v = distinctVmcb();
        const page = bytes.slice();
        encodeControlInto(page, v.control);
        encodeSaveInto(page, v.save);
        const mask = vmcbFieldMask();
        const want = encodeVmcb(v);
        for (let i = 0; i < 4096; i++) {
          if (page[i] !== (mask[i] ? want[i] : bytes[i])) throw new Error(`byte 0x${i.toString(16)}`);
        }
      }), { numRuns: 20 });
    });

    it('should write back a single changed field', () => {
      const page = encodeVmcb(distinctVmcb());
      const c = decodeControl(page);
      c.exit_code = 0x400n;
      encodeControlInto(page, c);
      expect(readLE(page, 0x070, 8)).toBe(0x400n);
      expect(decodeVmcb(page).save).toEqual(distinctVmcb().save);
    });

    it('should reject a page that is too short', () => {
      expect(() => encodeControlInto(new Uint8Array(0x3ff), zeroVmcb().control)).toThrow(/^encodeControlInto: /);
      expect(() => encodeSaveInto(new Uint8Array(0x800), zeroVmcb().save)).toThrow(/^encodeSaveInto: /);
    });
  });
});
