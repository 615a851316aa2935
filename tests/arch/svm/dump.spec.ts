import { describe, expect, it } from 'vitest';
import { CR0_BIT_NAMES, EFER_BIT_NAMES, INTERCEPT, setIntercept } from '../../../src/arch/svm/defs.ts';
import {
  describeBits64, describeEventInj, describeIntCtl, describeIntercepts, describeSegAttrib, dumpVmcb,
} from '../../../src/arch/svm/dump.ts';
import { VMCB_FIELDS } from '../../../src/arch/svm/layout.ts';
import { zeroVmcb } from '../../../src/arch/svm/vmcb.ts';
import { distinctVmcb } from './helpers.ts';

describe('dump', () => {
  describe('describeIntCtl', () => {
    it('should name set bits in bit order with V_TPR and V_INTR_PRIO as numbers', () => {
      // V_TPR=3, V_IRQ, V_INTR_PRIO=5, V_INTR_MASKING, V_GIF_ENABLE, AVIC_ENABLE
      expect(describeIntCtl(0x83050103)).toBe('V_TPR=3 V_IRQ V_INTR_PRIO=5 V_INTR_MASKING V_GIF_ENABLE AVIC_ENABLE');
    });

    it('should show bits KVM leaves undefined (10, 13-15, 21-23, 27-29) as bitN', () => {
      expect(describeIntCtl((1 << 10) | (1 << 27))).toBe('bit10 bit27');
      expect(describeIntCtl(0)).toBe('');
    });
  });

  describe('describeEventInj', () => {
    it('should decode V, type, vector and EV (APM 15.20)', () => {
      expect(describeEventInj(0x80000b0e)).toBe('V EXEPT vec=14 EV'); // #PF with error code
      expect(describeEventInj(0x80000220)).toBe('V NMI vec=32');
      expect(describeEventInj(0x80000420)).toBe('V SOFT vec=32');
      expect(describeEventInj(0)).toBe('');
    });

    it('should flag undefined types and reserved bits 30:12', () => {
      expect(describeEventInj(0x80001100)).toBe('V TYPE1 vec=0 RSVD=0x1000');
    });
  });

  describe('describeBits64', () => {
    it('should name known bits and show the rest as bitN', () => {
      expect(describeBits64(0x1d01n, EFER_BIT_NAMES)).toBe('SCE LME LMA NX SVME');
      expect(describeBits64(0x80000011n | (1n << 63n), CR0_BIT_NAMES)).toBe('PE ET PG bit63');
      expect(describeBits64(0n, CR0_BIT_NAMES)).toBe('');
    });
  });

  describe('describeIntercepts', () => {
    it('should name every set bit across the six words (KVM enum INTERCEPT_*)', () => {
      const w = [0, 0, 0, 0, 0, 0];
      for (const b of [INTERCEPT.CR3_WRITE, INTERCEPT.DR7_READ, 64 + 14, INTERCEPT.CPUID, INTERCEPT.VMRUN, INTERCEPT.IDLE_HLT]) setIntercept(w, b);
      expect(describeIntercepts(w)).toEqual(['CR3_WRITE', 'DR7_READ', 'EXCP_14', 'CPUID', 'VMRUN', 'IDLE_HLT']);
    });
  });

  describe('describeSegAttrib', () => {
    it('should decode the packed attrib (APM 15.5.1)', () => {
      expect(describeSegAttrib(0x29b)).toBe('type=b S DPL=0 P L');
      expect(describeSegAttrib(0xc93)).toBe('type=3 S DPL=0 P DB G');
    });
  });

  describe('dumpVmcb', () => {
    const v = zeroVmcb();
    setIntercept(v.control.intercepts, INTERCEPT.VMRUN);
    setIntercept(v.control.intercepts, INTERCEPT.MSR_PROT);
    v.control.int_ctl = 0x03000100 | 0x2; // V_IRQ V_INTR_MASKING V_GIF_ENABLE, V_TPR=2
    v.control.exit_code = 0xffffffffffffffffn;
    v.control.exit_int_info = 0x80000b0e;
    v.control.misc_ctl = 1n;
    v.control.misc_ctl2 = 3n;
    v.control.tlb_ctl = 3;
    v.save.cs = { selector: 0x10, attrib: 0x29b, limit: 0xffffffff, base: 0n };
    v.save.es = { selector: 0x18, attrib: 0x93, limit: 0xffffffff, base: 0n };
    v.save.efer = 0x1d00n;
    v.save.cr0 = 0x80050033n;
    v.save.cr4 = 0x20n;
    const out = dumpVmcb(v, { title: 'vmcb12 @ 0x1000' });
    const lines = out.split('\n');

    it('should print the title, then the control area, then the save area', () => {
      expect(lines[0]).toBe('vmcb12 @ 0x1000');
      expect(lines[1]).toBe('VMCB Control Area:');
      expect(lines.indexOf('VMCB State Save Area:')).toBeGreaterThan(1);
      expect(dumpVmcb(v).split('\n')[0]).toBe('VMCB Control Area:');
    });

    it('should print one aligned line per field (u32 as 8 hex digits, u64 as 16)', () => {
      const n = VMCB_FIELDS.length - 2 + 6 + 1; // intercepts as 6 lines, insn_bytes as 1
      expect(lines.length).toBe(1 + 2 + n);
      expect(out).toMatch(/^asid: +00000000$/m);
      expect(out).toMatch(/^nested_cr3: +0000000000000000$/m);
      expect(out).toMatch(/^insn_bytes: +(00 ){14}00$/m);
      const valueColumns = new Set(lines.filter((l) => /^\w+(\[\d\])?: +[0-9a-f]/.test(l)).map((l) => l.search(/(?<=: +)[0-9a-f]/)));
      expect([...valueColumns]).toEqual([22]);
    });

    it('should name set bits in brackets after the value', () => {
      expect(out).toMatch(/^int_ctl: +03000102 \[V_TPR=2 V_IRQ V_INTR_MASKING V_GIF_ENABLE\]$/m);
      expect(out).toMatch(/^exit_code: +ffffffffffffffff \[ERR\]$/m);
      expect(out).toMatch(/^exit_int_info: +80000b0e \[V EXEPT vec=14 EV\]$/m);
      expect(out).toMatch(/^misc_ctl: +0000000000000001 \[NP_ENABLE\]$/m);
      expect(out).toMatch(/^misc_ctl2: +0000000000000003 \[V_LBR V_VMLOAD_VMSAVE\]$/m);
      expect(out).toMatch(/^tlb_ctl: +03 \[FLUSH_ASID\]$/m);
      expect(out).toMatch(/^intercepts\[3\]: +10000000 \[MSR_PROT\]$/m);
      expect(out).toMatch(/^intercepts\[4\]: +00000001 \[VMRUN\]$/m);
      expect(out).toMatch(/^efer: +0000000000001d00 \[LME LMA NX SVME\]$/m);
      expect(out).toMatch(/^cr0: +0000000080050033 \[PE MP ET NE WP AM PG\]$/m);
      expect(out).toMatch(/^cr4: +0000000000000020 \[PAE\]$/m);
      expect(out).toMatch(/^event_inj: +00000000$/m);
    });

    it('should print segments as KVM does: %-5s s: a: l: b:', () => {
      expect(lines).toContain('es:   s: 0018 a: 0093 l: ffffffff b: 0000000000000000');
      expect(lines).toContain('cs:   s: 0010 a: 029b l: ffffffff b: 0000000000000000');
      expect(lines).toContain('gdtr: s: 0000 a: 0000 l: 00000000 b: 0000000000000000');
    });

    it('should mention every field', () => {
      const all = dumpVmcb(distinctVmcb());
      for (const f of VMCB_FIELDS) expect(all).toMatch(new RegExp(`^${f.name}(\\[0\\])?: `, 'm'));
    });
  });
});
