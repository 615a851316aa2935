import { describe, expect, it } from 'vitest';
import {
  ENTRY_FAIL, entryFailureName, VMENTER_INSTRUCTION_ERROR_TRACE_NAMES, VMXERR, vmxErrorName,
} from '../../../src/arch/vmx/errors.ts';

describe('errors', () => {
  describe('VMXERR', () => {
    it('should number 1..28 without 14, 21, 27 and without duplicates (SDM §31.4)', () => {
      const v = Object.values(VMXERR).sort((a, b) => a - b);
      expect(v).toEqual(Array.from({ length: 28 }, (_, i) => i + 1).filter((n) => ![14, 21, 27].includes(n)));
    });

    it('should use the numbers nested_vmx_run fails with (spec §2.2)', () => {
      expect(VMXERR.VMLAUNCH_NONCLEAR_VMCS).toBe(4);
      expect(VMXERR.VMRESUME_NONLAUNCHED_VMCS).toBe(5);
      expect(VMXERR.ENTRY_INVALID_CONTROL_FIELD).toBe(7);
      expect(VMXERR.ENTRY_INVALID_HOST_STATE_FIELD).toBe(8);
      expect(VMXERR.VMWRITE_READ_ONLY_VMCS_COMPONENT).toBe(13);
      expect(VMXERR.ENTRY_EVENTS_BLOCKED_BY_MOV_SS).toBe(26);
      expect(VMXERR.INVALID_OPERAND_TO_INVEPT_INVVPID).toBe(28);
    });
  });

  describe('vmxErrorName', () => {
    it('should name errors 7 and 8 and mark unused numbers', () => {
      expect(vmxErrorName(7)).toBe('ENTRY_INVALID_CONTROL_FIELD');
      expect(vmxErrorName(8)).toBe('ENTRY_INVALID_HOST_STATE_FIELD');
      expect(vmxErrorName(14)).toBe('UNKNOWN_14');
    });
  });

  describe('VMENTER_INSTRUCTION_ERROR_TRACE_NAMES', () => {
    it('should cover exactly the VM-entry errors with KVM\'s trace spelling', () => {
      expect(Object.keys(VMENTER_INSTRUCTION_ERROR_TRACE_NAMES).map(Number)).toEqual([4, 5, 6, 7, 8, 26]);
      expect(VMENTER_INSTRUCTION_ERROR_TRACE_NAMES[26]).toBe('VMENTRY_EVENTS_BLOCKED_BY_MOV_SS');
      expect(VMENTER_INSTRUCTION_ERROR_TRACE_NAMES[4]).toBe(vmxErrorName(4));
    });
  });

  describe('ENTRY_FAIL / entryFailureName', () => {
    it('should use 0 default, 2 PDPTE, 3 NMI, 4 VMCS link pointer (enum vm_entry_failure_code)', () => {
      expect(ENTRY_FAIL).toEqual({ DEFAULT: 0, PDPTE: 2, NMI: 3, VMCS_LINK_PTR: 4 });
      expect(entryFailureName(4)).toBe('VMCS_LINK_PTR');
      expect(entryFailureName(1)).toBe('UNKNOWN_1');
    });
  });
});
