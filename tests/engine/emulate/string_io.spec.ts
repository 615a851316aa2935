// INS/OUTS exit encodings and the addresses L0's emulator walks; routing to L1 vs emulation.

import { describe, expect, it } from 'vitest';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE } from '../../../src/arbitraries/nestedFault.ts';
import { stringAddresses, svmIoioExitInfo, vmxIoExitInfo, type StringIo } from '../../../src/engine/emulate/string_io.ts';
import { runNestedFault } from '../../../src/engine/mmu/nested_fault.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';

const io: StringIo = { kind: 'ins', port: 0x1f0, size: 2, rep: 3, df: false, l1_intercepts: false, insn_len: 2, rip: 0x1000n };

describe('string I/O', () => {
  it('encodes the SVM IOIO exit (APM Figure 15-2) and the VMX I/O qualification (SDM Table 28-5)', () => {
    // port 0x1f0 << 16 | SZ16 (bit 5) | REP (3) | STR (2) | IN (0)
    expect(svmIoioExitInfo(io)).toEqual({ exit_code: 0x7bn, exit_info_1: 0x1f0002dn, exit_info_2: 0x1002n });
    // size-1 = 1 | IN (3) | string (4) | REP (5) | port << 16
    expect(vmxIoExitInfo(io, 0x400000n).qual).toBe(0x1f00039n);
  });
  it('walks one address per iteration, downwards with DF', () => {
    expect(stringAddresses(io, 0x1000n)).toEqual([0x1000n, 0x1002n, 0x1004n]);
    expect(stringAddresses({ ...io, df: true }, 0x1000n)).toEqual([0x1000n, 0xffen, 0xffcn]);
  });
  it('L1 intercepting the port gets the I/O exit and L0 emulates nothing; without CVE-2020-2732\'s fix it emulated anyway', () => {
    const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, io: 'ins', ioIntercepted: true, ioRep: 2 }, []);
    const k = runNestedFault(c.scenario, getProfile('kvm-next') as Profile);
    expect([k.outcome, k.emulated.length]).toEqual(['l1-io-exit', 0]);
    const b = runNestedFault(c.scenario, getProfile('cve-2020-2732') as Profile);
    expect(b.emulated.length).toBe(2);
  });
  it('an emulated INS that faults in L1\'s NPT synthesizes the #NPF with the I/O exit still in vmcb02', () => {
    const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, io: 'ins' }, [['tdp-final-readonly', 0]]);
    const r = runNestedFault(c.scenario, getProfile('kvm-next') as Profile);
    expect(r.outcome).toBe('nested-exit');
    expect(r.injected_svm?.exit_info_1).toBe((1n << 32n) | 0x7n);
  });
});
