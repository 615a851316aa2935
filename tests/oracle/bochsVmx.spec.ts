// The bochs-vmx oracle end to end on Bochs 2.7 (corei7_sandy_bridge_2600k; .ci/run installs bochs,
// bochsbios, bochs-x, vgabios and nasm): the harness reads the capability MSRs oracle.md §6
// measured, the base state exits as the SDM says, and a fixed seeded batch agrees with the engine
// after the listed divergences.

import { describe, expect, it } from 'vitest';
import { buildOracleVmxCase } from '../../src/arbitraries/oracleVmx.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { snippetRip } from '../../src/oracle/image.ts';
import { runOracleSession } from '../../src/oracle/session.ts';
import { BOCHS_VMX } from '../../src/oracle/vmx/adapters.ts';
import { describeVmxCaps } from '../../src/oracle/vmx/cpu.ts';
import { encodeVmxStatePage } from '../../src/oracle/vmx/fieldList.ts';
import { probeVmxCpu } from '../../src/oracle/vmx/session.ts';

const kvmNext = getProfile('kvm-next')!;

describe('bochs-vmx oracle', () => {
  it('reads the capability MSRs of oracle.md §6 from the harness', async () => {
    const cpu = await probeVmxCpu(BOCHS_VMX);
    expect(describeVmxCaps(cpu)).toMatchObject({
      '0x480': '0x00d810000000002b',
      '0x481': '0x0000007f00000016',
      '0x482': '0xf7f9fffe0401e172',
      '0x483': '0x007fffff00036dff',
      '0x484': '0x0000ffff000011ff',
      '0x485': '0x00000000000401e0',
      '0x486': '0x0000000080000021',
      '0x487': '0x00000000ffffffff',
      '0x488': '0x0000000000002000',
      '0x489': '0x00000000000627ff',
      '0x48a': '0x0000000000000034',
      '0x48b': '0x000000ff00000000',
    });
    expect(cpu.guest.cpuid.vmx && cpu.guest.cpuid.lm).toBe(true);
    expect(cpu.caps.basic >> 55n & 1n).toBe(1n);
  }, 30_000);

  it('should exit with reason 10 (CPUID) and 12 (HLT) from the valid base, as the engine does', async () => {
    const cpu = await probeVmxCpu(BOCHS_VMX);
    const cases = (['cpuid', 'hlt'] as const).flatMap((snippet) => [true, false].map((ept) => buildOracleVmxCase(cpu, { snippet, ept }, [])));
    const r = await BOCHS_VMX.runBatch(cases.map((c) => encodeVmxStatePage(c.scenario.vmcs12, BOCHS_VMX.absentFields)), 1);
    cases.forEach((c, i) => {
      const reason = c.choice.snippet === 'cpuid' ? 10 : 12;
      expect(r.outcomes[i]).toMatchObject({ kind: 'exit', exit: { exit_reason: reason, guest_rip: BigInt(snippetRip(c.choice.snippet)), instruction_len: reason === 10 ? 2 : 1 } });
      expect(runVmx(c.scenario, kvmNext).l2_exit?.reason).toBe(reason);
    });
  }, 30_000);

  it('should report VMfailValid 7 / 8 and exit 33 qualification 4 as oracle.md §6 measured', async () => {
    const cpu = await probeVmxCpu(BOCHS_VMX);
    const base = { snippet: 'cpuid' as const, ept: true };
    const cases = [
      buildOracleVmxCase(cpu, base, [['pin-controls-invalid', 1]]), // a default1 pin-based control cleared: VMfailValid(7)
      buildOracleVmxCase(cpu, base, [['host-tr-selector-zero', 0]]), // SDM 26.2.3: host TR selector 0: VMfailValid(8)
      buildOracleVmxCase(cpu, base, [['guest-vmcs-link-ptr-invalid-address', 0]]), // SDM 26.3.1.5: exit 33, qualification 4
    ];
    const r = await BOCHS_VMX.runBatch(cases.map((c) => encodeVmxStatePage(c.scenario.vmcs12, BOCHS_VMX.absentFields)), 1);
    expect(r.outcomes[0]).toMatchObject({ kind: 'vmfail-valid', error: 7, failed: { insn: 'vmlaunch' } });
    expect(r.outcomes[1]).toMatchObject({ kind: 'vmfail-valid', error: 8, failed: { insn: 'vmlaunch' } });
    expect(r.outcomes[2]).toMatchObject({ kind: 'exit', exit: { exit_reason: 0x80000021, exit_qualification: 4n } });
  }, 30_000);

  it('agrees with the engine on a fixed batch after the listed divergences', async () => {
    const r = await runOracleSession({ emulator: 'bochs-vmx', profile: kvmNext, jobs: 2, generate: { count: 300, seed: 20261126 }, corpusDir: null, shrink: false });
    expect(r.states).toBe(300);
    expect(r.unexplained).toEqual([]);
    expect(r.agree).toBeGreaterThan(270);
  }, 60_000);
});
