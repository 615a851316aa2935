import { describe, expect, it } from 'vitest';
import {
  VMCB_CONTROL_FIELDS, VMCB_FIELDS, VMCB_PAGE_SIZE, VMCB_SAVE_FIELDS, VMCB_SEG_FIELDS, vmcbFieldMask,
} from '../../../src/arch/svm/layout.ts';
import { zeroControl, zeroSave } from '../../../src/arch/svm/vmcb.ts';

describe('layout', () => {
  describe('VMCB_CONTROL_FIELDS / VMCB_SAVE_FIELDS', () => {
    it('should list every member of VmcbControl and VmcbSave exactly once', () => {
      expect(VMCB_CONTROL_FIELDS.map((f) => f.name).sort()).toEqual(Object.keys(zeroControl()).sort());
      expect(VMCB_SAVE_FIELDS.map((f) => f.name).sort()).toEqual(Object.keys(zeroSave()).sort());
    });

    it('should be in offset order, non-overlapping, inside the right area of the page', () => {
      expect(VMCB_PAGE_SIZE).toBe(4096);
      let end = 0;
      for (const f of VMCB_FIELDS) {
        expect(f.offset, f.name).toBeGreaterThanOrEqual(end);
        end = f.offset + f.width;
        if (f.area === 'control') expect(end, f.name).toBeLessThanOrEqual(0x3e0); // below reserved_sw
        else expect(f.offset, f.name).toBeGreaterThanOrEqual(0x400);
      }
      expect(end).toBeLessThanOrEqual(VMCB_PAGE_SIZE);
    });

    it('should place fields at the offsets of spec §1.1 and §1.5 (APM vol. 2 Appendix B)', () => {
      const at = Object.fromEntries(VMCB_FIELDS.map((f) => [`${f.area}.${f.name}`, [f.offset, f.width]]));
      const expected: Record<string, [number, number]> = {
        'control.intercepts': [0x000, 24], 'control.pause_filter_thresh': [0x03c, 2],
        'control.pause_filter_count': [0x03e, 2], 'control.iopm_base_pa': [0x040, 8],
        'control.tlb_ctl': [0x05c, 1], 'control.erap_ctl': [0x05d, 1], 'control.int_ctl': [0x060, 4],
        'control.exit_code': [0x070, 8], 'control.exit_info_1': [0x078, 8], 'control.misc_ctl': [0x090, 8],
        'control.event_inj': [0x0a8, 4], 'control.nested_cr3': [0x0b0, 8], 'control.misc_ctl2': [0x0b8, 8],
        'control.clean': [0x0c0, 4], 'control.next_rip': [0x0c8, 8], 'control.insn_len': [0x0d0, 1],
        'control.insn_bytes': [0x0d1, 15], 'control.avic_backing_page': [0x0e0, 8],
        'control.vmsa_pa': [0x108, 8], 'control.bus_lock_counter': [0x120, 2],
        'control.allowed_sev_features': [0x138, 8], 'control.guest_sev_features': [0x140, 8],
        'save.es': [0x400, 16], 'save.tr': [0x490, 16], 'save.vmpl': [0x4ca, 1], 'save.cpl': [0x4cb, 1],
        'save.efer': [0x4d0, 8], 'save.cr4': [0x548, 8], 'save.rip': [0x578, 8], 'save.rsp': [0x5d8, 8],
        'save.rax': [0x5f8, 8], 'save.cr2': [0x640, 8], 'save.g_pat': [0x668, 8], 'save.spec_ctrl': [0x6e0, 8],
      };
      for (const [k, v] of Object.entries(expected)) expect(at[k], k).toEqual(v);
    });
  });

  describe('VMCB_SEG_FIELDS', () => {
    it('should describe struct vmcb_seg: selector@0 u16, attrib@2 u16, limit@4 u32, base@8 u64', () => {
      expect(VMCB_SEG_FIELDS.map((f) => [f.name, f.offset, f.width])).toEqual([
        ['selector', 0, 2], ['attrib', 2, 2], ['limit', 4, 4], ['base', 8, 8],
      ]);
    });
  });

  describe('vmcbFieldMask', () => {
    it('should mark field bytes and leave reserved ones clear', () => {
      const m = vmcbFieldMask();
      expect(m.length).toBe(4096);
      expect([m[0x017], m[0x018], m[0x03b], m[0x03c]]).toEqual([1, 0, 0, 1]);
      expect([m[0x05e], m[0x06c], m[0x0c4], m[0x0df], m[0x0e8], m[0x3e0]]).toEqual([0, 0, 0, 1, 0, 0]);
      expect([m[0x4c9], m[0x4ca], m[0x4cc], m[0x6e7], m[0x6e8], m[0xfff]]).toEqual([0, 1, 0, 1, 0, 0]);
    });
  });
});
