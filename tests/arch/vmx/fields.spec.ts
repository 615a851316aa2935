import { describe, expect, it } from 'vitest';
import {
  fieldType, fieldWidth, highEncoding, isHighAccess, isReadOnlyField, isWellFormedEncoding, kvmFieldTableIndex,
} from '../../../src/arch/vmx/encoding.ts';
import {
  VMCS, VMCS12_FIELDS, VMCS12_MAX_FIELD_INDEX, VMCS12_UNSUPPORTED_FIELDS, VMCS12_VMCS_ENUM, fieldByEncoding,
  fieldByName, fieldNameOf, fieldsOfGroup,
} from '../../../src/arch/vmx/fields.ts';

describe('fields', () => {
  describe('VMCS12_FIELDS', () => {
    it('should agree with the encoding anatomy on every row (width, type, read-only; SDM table B-1)', () => {
      for (const f of VMCS12_FIELDS) {
        expect(fieldWidth(f.encoding), f.name).toBe(f.width);
        expect(fieldType(f.encoding), f.name).toBe(f.group);
        expect(isReadOnlyField(f.encoding), f.name).toBe(f.readOnly);
        expect(f.readOnly, f.name).toBe(f.group === 'exit-info');
        expect(isHighAccess(f.encoding), f.name).toBe(false);
        expect(isWellFormedEncoding(f.encoding), f.name).toBe(true);
      }
    });

    it('should be in strictly increasing encoding order with no duplicate name, constant or encoding', () => {
      for (let i = 1; i < VMCS12_FIELDS.length; i++) {
        expect(VMCS12_FIELDS[i].encoding, VMCS12_FIELDS[i].name).toBeGreaterThan(VMCS12_FIELDS[i - 1].encoding);
      }
      expect(new Set(VMCS12_FIELDS.map((f) => f.name)).size).toBe(VMCS12_FIELDS.length);
      expect(new Set(VMCS12_FIELDS.map((f) => f.sdm)).size).toBe(VMCS12_FIELDS.length);
      expect(new Set(VMCS12_FIELDS.map((f) => f.encoding)).size).toBe(VMCS12_FIELDS.length);
    });

    it('should hold the upstream set of spec §1.3: 19 16-bit, 37 64-bit, 47 32-bit, 44 natural-width', () => {
      const count = (w: unknown): number => VMCS12_FIELDS.filter((f) => f.width === w).length;
      expect([count(16), count(64), count(32), count('natural')]).toEqual([19, 37, 47, 44]);
      expect(VMCS12_FIELDS.length).toBe(147);
    });

    it('should name members as KVM does: the lower-cased constant, except the CET SSP tables', () => {
      const odd = VMCS12_FIELDS.filter((f) => f.name !== f.sdm.toLowerCase()).map((f) => [f.sdm, f.name]);
      expect(odd).toEqual([
        ['GUEST_INTR_SSP_TABLE', 'guest_ssp_tbl'],
        ['HOST_INTR_SSP_TABLE', 'host_ssp_tbl'],
      ]);
    });

    it('should give KVM a distinct vmcs12_field_offsets[] slot for every full and high encoding', () => {
      const encs = VMCS12_FIELDS.flatMap((f) => (f.width === 64 ? [f.encoding, highEncoding(f.encoding)] : [f.encoding]));
      expect(new Set(encs.map(kvmFieldTableIndex)).size).toBe(encs.length);
    });
  });

  describe('VMCS', () => {
    it('should carry the SDM Appendix B encodings', () => {
      expect(VMCS.GUEST_RIP).toBe(0x681e);
      expect(VMCS.VM_INSTRUCTION_ERROR).toBe(0x4400);
      expect(VMCS.PIN_BASED_VM_EXEC_CONTROL).toBe(0x4000);
      expect(VMCS.CPU_BASED_VM_EXEC_CONTROL).toBe(0x4002);
      expect(VMCS.SECONDARY_VM_EXEC_CONTROL).toBe(0x401e);
      expect(VMCS.VM_EXIT_CONTROLS).toBe(0x400c);
      expect(VMCS.VM_ENTRY_CONTROLS).toBe(0x4012);
      expect(VMCS.EPT_POINTER).toBe(0x201a);
      expect(VMCS.VMCS_LINK_POINTER).toBe(0x2800);
      expect(VMCS.HOST_RIP).toBe(0x6c16);
      expect(VMCS.HOST_RSP).toBe(0x6c14);
      expect(VMCS.VIRTUAL_PROCESSOR_ID).toBe(0x0000);
      expect(VMCS.GUEST_ES_SELECTOR).toBe(0x0800);
      expect(VMCS.HOST_TR_SELECTOR).toBe(0x0c0c);
      expect(VMCS.IO_BITMAP_A).toBe(0x2000);
      expect(VMCS.TSC_MULTIPLIER).toBe(0x2032);
      expect(VMCS.GUEST_PHYSICAL_ADDRESS).toBe(0x2400);
      expect(VMCS.GUEST_IA32_EFER).toBe(0x2806);
      expect(VMCS.VM_EXIT_REASON).toBe(0x4402);
      expect(VMCS.VMX_INSTRUCTION_INFO).toBe(0x440e);
      expect(VMCS.GUEST_ES_LIMIT).toBe(0x4800);
      expect(VMCS.GUEST_TR_AR_BYTES).toBe(0x4822);
      expect(VMCS.GUEST_ACTIVITY_STATE).toBe(0x4826);
      expect(VMCS.VMX_PREEMPTION_TIMER_VALUE).toBe(0x482e);
      expect(VMCS.HOST_IA32_SYSENTER_CS).toBe(0x4c00);
      expect(VMCS.CR0_GUEST_HOST_MASK).toBe(0x6000);
      expect(VMCS.EXIT_QUALIFICATION).toBe(0x6400);
      expect(VMCS.GUEST_LINEAR_ADDRESS).toBe(0x640a);
      expect(VMCS.GUEST_CR0).toBe(0x6800);
      expect(VMCS.GUEST_RFLAGS).toBe(0x6820);
      expect(VMCS.GUEST_INTR_SSP_TABLE).toBe(0x682c);
      expect(VMCS.HOST_CR0).toBe(0x6c00);
      expect(VMCS.HOST_INTR_SSP_TABLE).toBe(0x6c1c);
    });

    it('should have one constant per row, equal to its encoding', () => {
      expect(Object.keys(VMCS).length).toBe(VMCS12_FIELDS.length);
      for (const f of VMCS12_FIELDS) expect((VMCS as Record<string, number>)[f.sdm], f.sdm).toBe(f.encoding);
    });
  });

  describe('fieldByName', () => {
    it('should find a row by KVM member name', () => {
      expect(fieldByName('guest_rip')).toMatchObject({ sdm: 'GUEST_RIP', encoding: 0x681e, width: 'natural', group: 'guest' });
      expect(fieldByName('vm_instruction_error')).toMatchObject({ encoding: 0x4400, width: 32, readOnly: true });
      expect(fieldByName('GUEST_RIP')).toBeUndefined();
      expect(fieldByName('cr3_target_value0')).toBeUndefined();
    });
  });

  describe('fieldByEncoding', () => {
    it('should find every row by its full encoding', () => {
      for (const f of VMCS12_FIELDS) expect(fieldByEncoding(f.encoding)).toEqual({ field: f, access: 'full' });
    });

    it('should report the *_HIGH encoding of a 64-bit field as its high half (FIELD64)', () => {
      expect(fieldByEncoding(0x201b)).toEqual({ field: fieldByName('ept_pointer'), access: 'high' });
      expect(fieldByEncoding(0x2401)).toEqual({ field: fieldByName('guest_physical_address'), access: 'high' });
      expect(fieldNameOf(0x2801)).toBe('vmcs_link_pointer');
    });

    it('should not find a high access to a 16-bit, 32-bit or natural-width field (VMfailValid 12)', () => {
      for (const f of VMCS12_FIELDS) {
        if (f.width !== 64) expect(fieldByEncoding(highEncoding(f.encoding)), f.name).toBeUndefined();
      }
    });

    it('should not find fields KVM leaves out of vmcs12, nor encodings with bits 63:15 set', () => {
      for (const u of VMCS12_UNSUPPORTED_FIELDS) {
        expect(isWellFormedEncoding(u.encoding), u.sdm).toBe(true);
        expect(fieldByEncoding(u.encoding), u.sdm).toBeUndefined();
        expect(fieldByEncoding(highEncoding(u.encoding)), u.sdm).toBeUndefined();
      }
      expect(fieldByEncoding(0x1681e)).toBeUndefined();
      expect(fieldByEncoding(0x8000 | 0x681e)).toBeUndefined();
      expect(fieldByEncoding(0x781e)).toBeUndefined(); // bit 12 set
      expect(fieldByEncoding(-1)).toBeUndefined();
      expect(fieldByEncoding(NaN)).toBeUndefined();
      expect(fieldByEncoding(0x681e + 0.5)).toBeUndefined();
    });
  });

  describe('fieldsOfGroup', () => {
    it('should split the table into the four types, in encoding order', () => {
      const g = (x: Parameters<typeof fieldsOfGroup>[0]): string[] => fieldsOfGroup(x).map((f) => f.name);
      expect(g('exit-info')).toEqual([
        'guest_physical_address', 'vm_instruction_error', 'vm_exit_reason', 'vm_exit_intr_info',
        'vm_exit_intr_error_code', 'idt_vectoring_info_field', 'idt_vectoring_error_code',
        'vm_exit_instruction_len', 'vmx_instruction_info', 'exit_qualification', 'guest_linear_address',
      ]);
      const total = g('control').length + g('exit-info').length + g('guest').length + g('host').length;
      expect(total).toBe(VMCS12_FIELDS.length);
    });
  });

  describe('VMCS12_VMCS_ENUM', () => {
    it('should be the highest index (TSC_MULTIPLIER, 0x19) in bits 9:1: 0x32 (spec §1.1)', () => {
      expect(VMCS12_MAX_FIELD_INDEX).toBe(0x19);
      expect(VMCS12_VMCS_ENUM).toBe(0x32);
    });
  });
});
