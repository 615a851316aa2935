import { describe, expect, it } from 'vitest';
import {
  ALWAYSON_WITHOUT_TRUE_MSR, CONTROL_GROUPS, CPU_BASED, describeControls, PIN_BASED, SECONDARY, VM_ENTRY,
  VM_EXIT, type ControlGroup,
} from '../../../src/arch/vmx/controls.ts';

const GROUPS = Object.keys(CONTROL_GROUPS) as ControlGroup[];
const bitOf = (mask: number): number => 31 - Math.clz32(mask);

describe('controls', () => {
  describe('CONTROL_GROUPS', () => {
    it('should give every control a single bit, with no duplicate positions per group', () => {
      for (const g of GROUPS) {
        const masks = Object.values(CONTROL_GROUPS[g].bits);
        for (const m of masks) expect(m > 0 && m <= 0x80000000 && (m & (m - 1)) === 0, `${g} ${m}`).toBe(true);
        expect(new Set(masks).size, g).toBe(masks.length);
      }
    });

    it('should have a name table that is the exact inverse of the bits', () => {
      for (const g of GROUPS) {
        const { bits, names } = CONTROL_GROUPS[g];
        expect(Object.keys(names).length, g).toBe(Object.keys(bits).length);
        for (const [name, mask] of Object.entries(bits)) expect(names[bitOf(mask)], `${g}.${name}`).toBe(name);
      }
    });

    it('should place the controls at the SDM / asm/vmx.h positions (spec §1.4)', () => {
      expect(bitOf(PIN_BASED.EXT_INTR_MASK)).toBe(0);
      expect(bitOf(PIN_BASED.NMI_EXITING)).toBe(3);
      expect(bitOf(PIN_BASED.VMX_PREEMPTION_TIMER)).toBe(6);
      expect(bitOf(PIN_BASED.POSTED_INTR)).toBe(7);
      expect(bitOf(CPU_BASED.HLT_EXITING)).toBe(7);
      expect(bitOf(CPU_BASED.ACTIVATE_TERTIARY_CONTROLS)).toBe(17);
      expect(bitOf(CPU_BASED.TPR_SHADOW)).toBe(21);
      expect(bitOf(CPU_BASED.MONITOR_TRAP_FLAG)).toBe(27);
      expect(CPU_BASED.ACTIVATE_SECONDARY_CONTROLS).toBe(0x80000000);
      expect(SECONDARY.ENABLE_EPT).toBe(1 << 1);
      expect(bitOf(SECONDARY.ENABLE_VPID)).toBe(5);
      expect(bitOf(SECONDARY.UNRESTRICTED_GUEST)).toBe(7);
      expect(bitOf(SECONDARY.SHADOW_VMCS)).toBe(14);
      expect(bitOf(SECONDARY.ENABLE_PML)).toBe(17);
      expect(bitOf(SECONDARY.MODE_BASED_EPT_EXEC)).toBe(22);
      expect(bitOf(SECONDARY.TSC_SCALING)).toBe(25);
      expect(SECONDARY.NOTIFY_VM_EXITING).toBe(0x80000000);
      expect(VM_EXIT.SAVE_DEBUG_CONTROLS).toBe(0x4);
      expect(VM_EXIT.HOST_ADDR_SPACE_SIZE).toBe(0x200);
      expect(VM_EXIT.ACK_INTR_ON_EXIT).toBe(0x8000);
      expect(VM_EXIT.LOAD_IA32_EFER).toBe(0x200000);
      expect(VM_EXIT.LOAD_CET_STATE).toBe(0x10000000);
      expect(VM_ENTRY.LOAD_DEBUG_CONTROLS).toBe(0x4);
      expect(VM_ENTRY.IA32E_MODE).toBe(0x200);
      expect(VM_ENTRY.SMM).toBe(0x400);
      expect(VM_ENTRY.LOAD_IA32_EFER).toBe(0x8000);
      expect(VM_ENTRY.LOAD_CET_STATE).toBe(0x100000);
    });

    it('should keep named controls out of the default1 bits of the same group', () => {
      // Default1 bits are reserved "always on" bits; only the debug-controls bit 2 and CR3 exiting
      // (15, 16) are both default1 and named (spec §1.4/§1.5).
      const overlap = (g: ControlGroup): string[] =>
        Object.entries(CONTROL_GROUPS[g].bits).filter(([, m]) => (CONTROL_GROUPS[g].default1 & m) !== 0).map(([k]) => k);
      expect(overlap('pin')).toEqual([]);
      expect(overlap('cpu').sort()).toEqual(['CR3_LOAD_EXITING', 'CR3_STORE_EXITING']);
      expect(overlap('exit')).toEqual(['SAVE_DEBUG_CONTROLS']);
      expect(overlap('entry')).toEqual(['LOAD_DEBUG_CONTROLS']);
      expect(ALWAYSON_WITHOUT_TRUE_MSR).toEqual({ pin: 0x16, cpu: 0x0401e172, exit: 0x36dff, entry: 0x11ff });
    });
  });

  describe('describeControls', () => {
    it('should name set bits in bit order', () => {
      expect(describeControls('secondary', SECONDARY.ENABLE_VPID | SECONDARY.ENABLE_EPT)).toEqual(['ENABLE_EPT', 'ENABLE_VPID']);
      expect(describeControls('entry', VM_ENTRY.IA32E_MODE | VM_ENTRY.LOAD_IA32_EFER)).toEqual(['IA32E_MODE', 'LOAD_IA32_EFER']);
      expect(describeControls('cpu', 0)).toEqual([]);
    });

    it('should mark unnamed default1 bits and other unnamed bits differently', () => {
      expect(describeControls('pin', 0x16 | PIN_BASED.EXT_INTR_MASK)).toEqual(['EXT_INTR_MASK', 'DEFAULT1_1', 'DEFAULT1_2', 'DEFAULT1_4']);
      expect(describeControls('pin', 1 << 8)).toEqual(['BIT_8']);
      expect(describeControls('secondary', 1 << 23)).toEqual(['BIT_23']);
    });

    it('should handle bit 31', () => {
      expect(describeControls('cpu', CPU_BASED.ACTIVATE_SECONDARY_CONTROLS)).toEqual(['ACTIVATE_SECONDARY_CONTROLS']);
      expect(describeControls('exit', 0x80000000 | 0)).toEqual(['ACTIVATE_SECONDARY_CONTROLS']);
    });
  });
});
