import { describe, expect, it } from 'vitest';
import {
  describeExitReason, EXIT_REASON, EXIT_REASON_FLAGS, exitReasonName, failedVmentryReason,
} from '../../../src/arch/vmx/exit_reasons.ts';

describe('exit_reasons', () => {
  describe('EXIT_REASON', () => {
    it('should give each basic exit reason one name', () => {
      const v = Object.values(EXIT_REASON);
      expect(new Set(v).size).toBe(v.length);
      for (const n of v) expect(n >= 0 && n <= 0xffff).toBe(true);
    });

    it('should use the SDM App. C / uapi vmx.h numbers', () => {
      expect([EXIT_REASON.EXCEPTION_NMI, EXIT_REASON.TRIPLE_FAULT, EXIT_REASON.VMLAUNCH, EXIT_REASON.VMRESUME])
        .toEqual([0, 2, 20, 24]);
      expect([EXIT_REASON.INVALID_STATE, EXIT_REASON.MSR_LOAD_FAIL, EXIT_REASON.MCE_DURING_VMENTRY]).toEqual([33, 34, 41]);
      expect([EXIT_REASON.EPT_VIOLATION, EXIT_REASON.EPT_MISCONFIG, EXIT_REASON.PML_FULL]).toEqual([48, 49, 62]);
      expect([EXIT_REASON.PREEMPTION_TIMER, EXIT_REASON.VMFUNC, EXIT_REASON.NOTIFY]).toEqual([52, 59, 75]);
    });
  });

  describe('exitReasonName', () => {
    it('should name exits 33, 34 and 48 and ignore flag bits', () => {
      expect(exitReasonName(33)).toBe('INVALID_STATE');
      expect(exitReasonName(34)).toBe('MSR_LOAD_FAIL');
      expect(exitReasonName(48)).toBe('EPT_VIOLATION');
      expect(exitReasonName(0x80000021)).toBe('INVALID_STATE');
      expect(exitReasonName(35)).toBe('UNKNOWN_35');
    });
  });

  describe('EXIT_REASON_FLAGS', () => {
    it('should put failed-VM-entry at bit 31 and the SMM flags at 29 / 28', () => {
      expect(EXIT_REASON_FLAGS.FAILED_VMENTRY).toBe(0x80000000);
      expect(EXIT_REASON_FLAGS.SMI_FROM_VMX_ROOT).toBe(1 << 29);
      expect(EXIT_REASON_FLAGS.SMI_PENDING_MTF).toBe(1 << 28);
      expect(EXIT_REASON_FLAGS.ENCLAVE_MODE).toBe(1 << 27);
      expect(EXIT_REASON_FLAGS.BUS_LOCK_DETECTED).toBe(1 << 26);
    });
  });

  describe('describeExitReason / failedVmentryReason', () => {
    it('should render the basic reason then the flags', () => {
      expect(failedVmentryReason(EXIT_REASON.INVALID_STATE)).toBe(0x80000021);
      expect(describeExitReason(failedVmentryReason(EXIT_REASON.MSR_LOAD_FAIL))).toBe('MSR_LOAD_FAIL|FAILED_VMENTRY');
      expect(describeExitReason(EXIT_REASON.EPT_VIOLATION)).toBe('EPT_VIOLATION');
      expect(describeExitReason((1 << 27) | 1)).toBe('EXTERNAL_INTERRUPT|ENCLAVE_MODE');
      expect(describeExitReason(1 << 20)).toBe('EXCEPTION_NMI|BIT_20');
    });
  });
});
