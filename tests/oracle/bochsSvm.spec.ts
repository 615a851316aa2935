// The bochs-svm oracle end to end on Bochs 2.7 (phenom_8650_toliman; .ci/run installs bochs,
// bochsbios, bochs-x, vgabios and nasm): a fixed seeded batch agrees with the engine after the
// listed divergences, and the crash-resume loop gives every state after a Bochs PANIC a verdict.

import { describe, expect, it } from 'vitest';
import { buildOracleSvmCase } from '../../src/arbitraries/oracleSvm.ts';
import { encodeVmcb } from '../../src/arch/svm/codec.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { runBochsSvm } from '../../src/oracle/bochs.ts';
import { BOCHS_SVM, bochsSvmKills } from '../../src/oracle/svm/adapters.ts';
import { probeCpu, runOracleSession } from '../../src/oracle/session.ts';
import { forgetConfirmedPredictions } from '../../src/oracle/holdBack.ts';
import { runSvmOracleBatch } from '../../src/oracle/svm/driver.ts';
import { pageList } from '../../src/oracle/statePages.ts';

const kvmNext = getProfile('kvm-next')!;

describe('bochs-svm oracle', () => {
  it('reads the CPU model from the harness: phenom with SVM and NPT, MAXPHYADDR 40', async () => {
    const cpu = await probeCpu(BOCHS_SVM);
    expect(cpu.maxphyaddr).toBe(40);
    expect(cpu.guest.svm && cpu.guest.npt && cpu.guest.lm && cpu.guest.nx).toBe(true);
    expect(cpu.guest.vnmi || cpu.guest.vmx).toBe(false);
  });

  it('agrees with the engine on a fixed batch after the listed divergences', async () => {
    const r = await runOracleSession({ emulator: 'bochs-svm', profile: kvmNext, jobs: 2, generate: { count: 400, seed: 20261126 }, corpusDir: null, shrink: false });
    expect(r.states).toBe(400);
    expect(r.unexplained).toEqual([]);
    expect(r.agree).toBeGreaterThan(250);
  }, 60_000);

  describe('runBochsSvm', () => {
    it('should resume after a state that PANICs Bochs, so later states still get verdicts', async () => {
      const cpu = await probeCpu(BOCHS_SVM);
      const valid = encodeVmcb(buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, []).scenario.vmcb12);
      // APM 15.5.1: EFER.LME=1, CR0.PG=1, CR0.PE=0 is illegal; Bochs 2.7 PANICs loading it (oracle.md §4.3).
      const panic = encodeVmcb(buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, [['long-mode-pe-clear', 0]]).scenario.vmcb12);
      const r = await runBochsSvm([pageList([valid, panic, valid, valid])], 1);
      expect(r.boots).toBe(2);
      expect(r.outcomes[1]).toMatchObject({ kind: 'crash' });
      expect(r.outcomes[1].kind === 'crash' && r.outcomes[1].detail).toMatch(/PANIC.*EFER\.LMA is set when CR0\.PE=0/);
      for (const i of [0, 2, 3]) expect(r.outcomes[i]).toMatchObject({ kind: 'exit', exit: { exit_code: 0x81n } });
    }, 30_000);

    it('should run one predicted crasher per reason and report the others from it', async () => {
      forgetConfirmedPredictions();
      const cpu = await probeCpu(BOCHS_SVM);
      const valid = buildOracleSvmCase(cpu, { mode: 'unpaged32', np: false, snippet: 'cpuid' }, []);
      const panic = buildOracleSvmCase(cpu, { mode: 'long64', np: false, snippet: 'hlt' }, [['long-mode-pe-clear', 0]]);
      expect(bochsSvmKills(encodeVmcb(panic.scenario.vmcb12))).toMatch(/PANIC/);
      expect(BOCHS_SVM.predictCrash!(valid)).toBeNull();
      const r = await runSvmOracleBatch([panic, valid, panic, valid], BOCHS_SVM, kvmNext, 1);
      // The first predicted state ran (last in its lane, after the valid states) and crashed, which
      // cost no second boot; the other predicted state was not run.
      expect(r.boots).toBe(1);
      const emu = r.results.map((x) => x.cmp.emu);
      expect(emu[0].kind === 'crash' && emu[0].detail).toMatch(/^bochs exited .*PANIC/);
      expect(emu[2].kind === 'crash' && emu[2].detail).toMatch(/^not run, predicted .*confirmed on state 0/);
      for (const i of [1, 3]) expect(emu[i]).toMatchObject({ kind: 'exit', exit_code: 0x72n });
    }, 30_000);
  });
});
