import { describe, expect, it } from 'vitest';
import {
  EPTE, EPT_VIOLATION, PFERR_BITS, PFERR_MASK, PTE32, PTE64, bits, describeEntry, describeEptViolationQual, describePferr,
  levelPageSize, levelShift, paePdpteIndex, physAddrMask, ptIndex, rsvdAbovePhys,
} from '../../src/arch/paging/index.ts';
import { PFERR } from '../../src/engine/mmu/types.ts';

describe('arch/paging formats', () => {
  it('should place the 32-bit and 64-bit entry bits (SDM 3A §4.3–4.5)', () => {
    expect([PTE32.P, PTE32.RW, PTE32.US, PTE32.PWT, PTE32.PCD, PTE32.A, PTE32.D, PTE32.PS, PTE32.G]).toEqual(
      [0x1n, 0x2n, 0x4n, 0x8n, 0x10n, 0x20n, 0x40n, 0x80n, 0x100n]);
    expect(PTE32.PAT_LARGE).toBe(0x1000n);
    expect(PTE32.PSE36_MASK).toBe(0x1fe000n);
    expect(PTE64.NX).toBe(1n << 63n);
    expect(PTE64.PKEY_MASK).toBe(0x7800000000000000n);
    expect(PTE64.ADDR_MASK).toBe(0x000ffffffffff000n);
    expect(PTE64.RSVD_2M_LOW).toBe(0x1fe000n);
    expect(PTE64.RSVD_1G_LOW).toBe(0x3fffe000n);
  });

  it('should place the EPT entry bits (SDM 3C §29.3.2)', () => {
    expect([EPTE.R, EPTE.W, EPTE.X, EPTE.IPAT, EPTE.PS, EPTE.A, EPTE.D, EPTE.UX, EPTE.SVE]).toEqual(
      [1n, 2n, 4n, 0x40n, 0x80n, 0x100n, 0x200n, 0x400n, 1n << 63n]);
    expect(EPTE.MEMTYPE_MASK).toBe(0x38n);
  });

  it('should index tables per level', () => {
    const a = 0x0000_7fab_cdef_1234n;
    expect(ptIndex(a, 1)).toBe(Number((a >> 12n) & 511n));
    expect(ptIndex(a, 4)).toBe(Number((a >> 39n) & 511n));
    expect(ptIndex(0xffc00000n, 2, 10)).toBe(0x3ff);
    expect(ptIndex(0x00401000n, 1, 10)).toBe(1);
    expect(paePdpteIndex(0xc0000000n)).toBe(3);
    expect(levelShift(5)).toBe(48n);
    expect(levelShift(2, 10)).toBe(22n);
    expect(levelPageSize(3)).toBe(1n << 30n);
    expect(bits(3, 1)).toBe(0xen);
    expect(bits(1, 3)).toBe(0n);
    expect(physAddrMask(36)).toBe(0xffffff000n);
    expect(rsvdAbovePhys(46)).toBe(bits(51, 46));
    expect(rsvdAbovePhys(52)).toBe(0n);
  });
});

describe('arch/paging pferr', () => {
  it('should agree with the engine PFERR table bit for bit', () => {
    for (const [k, v] of Object.entries(PFERR)) {
      const name = ({ PRESENT: 'P', WRITE: 'W', USER: 'U' } as Record<string, string>)[k] ?? k;
      expect(PFERR_MASK[name as keyof typeof PFERR_MASK], k).toBe(v);
    }
    expect(PFERR_BITS.GUEST_PAGE).toBe(33);
  });

  it('should name every bit and number the unknown ones', () => {
    expect(describePferr(0x2_0000_0007n)).toEqual(['P', 'W', 'U', 'GUEST_PAGE']);
    expect(describePferr((1n << 48n) | (1n << 49n) | (1n << 40n) | 0x38n)).toEqual(
      ['RSVD', 'FETCH', 'PK', 'bit 40', 'IMPLICIT_ACCESS', 'PRIVATE_ACCESS']);
    expect(describePferr(0n)).toEqual([]);
    expect(describePferr((1n << 15n) | (1n << 31n) | (0x1fn << 32n))).toEqual(
      ['SGX', 'GUEST_RMP', 'GUEST_FINAL', 'GUEST_PAGE', 'GUEST_ENC', 'GUEST_SIZEM', 'GUEST_VMPL']);
  });

  it('should re-export the EPT qualification with bits 13 and 16 named', () => {
    expect(EPT_VIOLATION.GVA_TRANSLATED).toBe(0x100);
    expect(describeEptViolationQual(0x181n | (1n << 13n) | (1n << 16n))).toEqual(
      ['ACC_READ', 'GVA_IS_VALID', 'GVA_TRANSLATED', 'SHADOW_STACK', 'ASYNC_TO_INSTR']);
  });
});

describe('arch/paging describeEntry', () => {
  it('should decode a 64-bit 1G leaf with NX and a protection key', () => {
    const v = 0x4000_0000n | PTE64.P | PTE64.RW | PTE64.US | PTE64.A | PTE64.PS | PTE64.NX | (3n << 59n);
    expect(describeEntry('64', v, 3)).toBe('PDPTE P RW US A PS addr=0x40000000 NX pkey=3');
  });

  it('should decode 32-bit PDE (4M with PSE-36 bits) and PTE', () => {
    expect(describeEntry('32', 0x00c0_0000n | (0x5n << 13n) | 0xe3n, 2)).toBe('PDE P RW A D PS addr=0x500c00000');
    expect(describeEntry('32', 0x1234_5000n | 0x85n, 1)).toBe('PTE P US PAT addr=0x12345000');
  });

  it('should decode EPT entries', () => {
    expect(describeEntry('ept', 0x20_0000n | 0x7n | (6n << 3n) | EPTE.PS | EPTE.A | EPTE.D, 2)).toBe('EPT PDE R W X mt=6 PS A D addr=0x200000');
    expect(describeEntry('ept', 0x3000n | 0x4n | EPTE.UX | EPTE.SVE, 4)).toBe('EPT PML4E X UX addr=0x3000 SVE');
    expect(describeEntry('ept', 0x3000n | 0x1n | 0x18n, 3)).toBe('EPT PDPTE R rsvd6:3=0x3 addr=0x3000');
  });
});
