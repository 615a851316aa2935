import { describe, expect, it } from 'vitest';
import { CPU_BASED, SECONDARY } from '../../../src/arch/vmx/controls.ts';
import { dumpVmcs12 } from '../../../src/arch/vmx/dump.ts';
import { vmcs12Namer } from '../../../src/arch/vmx/namer.ts';
import { zeroVmcs12 } from '../../../src/arch/vmx/vmcs12.ts';

describe('vmcs12Namer', () => {
  describe('dumpVmcs12 with the default namer', () => {
    it('should name set control bits, the exit reason and the VM-instruction error', () => {
      const v = zeroVmcs12() as unknown as Record<string, bigint | number>;
      v.cpu_based_vm_exec_control = CPU_BASED.ACTIVATE_SECONDARY_CONTROLS;
      v.secondary_vm_exec_control = SECONDARY.ENABLE_EPT;
      v.vm_exit_reason = (0x80000000 | 33) >>> 0;
      v.vm_instruction_error = 7;
      v.vm_entry_intr_info_field = (0x80000000 | (3 << 8) | (1 << 11) | 14) >>> 0;
      const out = dumpVmcs12(v as never, { names: vmcs12Namer });
      expect(out).toMatch(/cpu_based_vm_exec_control.*ACTIVATE_SECONDARY_CONTROLS/);
      expect(out).toMatch(/secondary_vm_exec_control.*ENABLE_EPT/);
      expect(out).toMatch(/vm_exit_reason.*INVALID_STATE/);
      expect(out).toMatch(/vm_instruction_error.*7|vm_instruction_error.*INVALID_CONTROL/i);
      expect(out).toMatch(/vm_entry_intr_info_field.*#PF/);
    });
  });
});
