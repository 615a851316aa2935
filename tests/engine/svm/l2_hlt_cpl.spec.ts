// HLT in L2 at CPL > 0: the CPU's privilege check comes before the HLT intercept (APM vol.2
// 15.9), and CPL is the VMCB's CPL field (APM 15.5.1). Found by the qemu-svm oracle, which runs
// the same vmcb12 on QEMU TCG (there: the CPL-from-SS.DPL divergence).

import { describe, expect, it } from 'vitest';
import { INTERCEPT, VEC, setIntercept } from '../../../src/arch/svm/defs.ts';
import { baseScenario, DEFAULT_BASE } from '../../../src/arbitraries/_internals/builders/baseScenario.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import { run } from '../../../src/engine/svm/run.ts';

const kvmNext = getProfile('kvm-next')!;

function hltAt(cpl: number, gpIntercepted: boolean) {
  const s = baseScenario({ ...DEFAULT_BASE, program: [{ op: 'hlt' }] });
  setIntercept(s.vmcb12.control.intercepts, INTERCEPT.HLT);
  if (gpIntercepted) setIntercept(s.vmcb12.control.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.GP);
  s.vmcb12.save.cpl = cpl;
  return run(s, kvmNext);
}

describe('L2 HLT and CPL', () => {
  it('exits to L1 with HLT at CPL 0', () => {
    expect(hltAt(0, true).l2_exit_code).toBe(0x78n);
  });

  it('raises #GP(0) before the HLT intercept at CPL 3, reflected when L1 intercepts #GP', () => {
    const r = hltAt(3, true);
    expect(r.l2_exit_code).toBe(0x4dn);
    expect(r.after.vmcb12!.control.exit_info_1).toBe(0n);
  });

  it('leaves the #GP to L2 when L1 does not intercept it (no exit to L1)', () => {
    expect(hltAt(3, false).l2_exit_code).toBeNull();
  });
});
