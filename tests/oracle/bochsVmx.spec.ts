// The bochs-vmx oracle end to end on Bochs 2.7 (corei7_sandy_bridge_2600k; .ci/run installs bochs,
// bochsbios, bochs-x, vgabios and nasm): the harness reads the capability MSRs oracle.md §6
// measured, the base state exits as the SDM says, a fixed seeded batch agrees with the engine
// after the listed divergences, and an engine that drops a VM-entry check (mutant-no-host-tr-check)
// is caught, shrunk to one mutation, written, replayed, and ridden along a campaign into the
// failure database.

import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildOracleSvmCase } from '../../src/arbitraries/oracleSvm.ts';
import { buildOracleVmxCase } from '../../src/arbitraries/oracleVmx.ts';
import { DEFAULT_ORACLE_SVM_CHOICE } from '../../src/arbitraries/_internals/builders/oracleSvmBase.ts';
import { readIndex } from '../../src/campaign/buckets.ts';
import { fromJson, toJson } from '../../src/campaign/serialize.ts';
import { triage } from '../../src/campaign/triage.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { cpuFromCpuid } from '../../src/oracle/cpu.ts';
import { snippetRip } from '../../src/oracle/image.ts';
import { parseAnyOracleEntry, saveOracleCounterexample } from '../../src/oracle/oracleCorpus.ts';
import { runOracleSession } from '../../src/oracle/session.ts';
import type { VmxOracleSessionReport } from '../../src/oracle/vmx/session.ts';
import { cli, expectOneLineError, REPO_ROOT, tempDir } from '../campaign/helpers.ts';
import { BOCHS_VMX } from '../../src/oracle/vmx/adapters.ts';
import { describeVmxCaps, vmxCpuFromDump } from '../../src/oracle/vmx/cpu.ts';
import { encodeVmxStatePage } from '../../src/oracle/vmx/fieldList.ts';
import { probeVmxCpu } from '../../src/oracle/vmx/session.ts';
import { pageList } from '../../src/oracle/statePages.ts';
import { bootBochsImage, BOCHS_VMX_CPU } from '../../src/oracle/bochs.ts';
import { exportRepro } from '../../src/oracle/export/export.ts';
import { reproVmxCpu } from '../../src/oracle/export/vmxCpu.ts';
import { reproVmxBochsImage } from '../../src/oracle/export/vmxImage.ts';
import type { VmxReproSource } from '../../src/oracle/export/vmxSource.ts';
import { describeVmxVerdict } from '../../src/oracle/vmx/verdict.ts';
import { projectedMemory, VMX_MSR_LIST_SLOTS } from '../../src/oracle/vmx/project.ts';
import { runVmxOracleBatch } from '../../src/oracle/vmx/driver.ts';
import { memKey } from '../../src/engine/vmx/scenario.ts';

const kvmNext = getProfile('kvm-next')!;
const tmp = tempDir('oracle-vmx');
afterAll(() => tmp.cleanup());

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
    const r = await BOCHS_VMX.runBatch([pageList(cases.map((c) => encodeVmxStatePage(c.scenario.vmcs12, BOCHS_VMX.absentFields)))], 1);
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
    const r = await BOCHS_VMX.runBatch([pageList(cases.map((c) => encodeVmxStatePage(c.scenario.vmcs12, BOCHS_VMX.absentFields)))], 1);
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

  // SDM 27.2.3: "The selector field for TR cannot be 0000H" (VMfailValid 8). mutant-no-host-tr-check
  // drops KVM's check, and the host state KVM loads on exit is L0's own, so nothing else catches it:
  // the engine enters L2 where Bochs fails VMLAUNCH. (mutant-no-vpid-check diverges too, but its
  // mutation matters only with EPT+VPID and variant 0: 1 state in 1,500; cve-2023-30456 showed none
  // in 300 — Bochs and the engine's CPU layer both reject those guests.)
  const mutant = 'mutant-no-host-tr-check';

  it('should catch an engine that drops the host TR check: exit 1, shrunk to one mutation, written, and replayed by --cases', async () => {
    const dir = join(tmp.dir, 'found');
    mkdirSync(dir);
    // Seed 2's state 21 is {hlt, ept} host-tr-selector-zero:184 guest-cr4-reserved:215 (the engine: exit 33, Bochs: VMfailValid 8).
    const found = cli('oracle', '--emulator', 'bochs-vmx', '--generate', '22', '--seed', '2', '--profile', mutant, '--corpus', join(dir, 'corpus'), '--jobs', '1', '--json');
    expect(found.code).toBe(1);
    const report = fromJson<VmxOracleSessionReport>(found.stdout);
    expect(report.unexplained).toHaveLength(1);
    const u = report.unexplained[0];
    expect(u.shrink_steps[0].mutations).toEqual(['host-tr-selector-zero:184']);
    expect([u.mutations, u.choice]).toEqual([['host-tr-selector-zero:0'], { snippet: 'cpuid', ept: true }]);
    expect([u.engine, u.emulator]).toEqual([{ kind: 'exit', reason: 10, qualification: 0n }, { kind: 'vmfail-valid', error: 8 }]);
    expect(u.signature).toBe('further/vmfail-valid:8/kind');
    expect(u.file).toContain(join('corpus', 'oracle', 'bochs-vmx'));
    const entry = parseAnyOracleEntry(u.file!, fromJson(readFileSync(u.file!, 'utf8')));
    expect([entry.arch, entry.property, entry.verdict?.code]).toEqual(['vmx', 'engine-agrees-with-bochs-vmx', 'unexplained:further/vmfail-valid:8/kind']);

    // The oracle counterexample exports as found (no projection): the engine on kvm-next and on the
    // mutant, and Bochs as found; booted on Bochs, the REPRO code observes Bochs's verdict again.
    const out = join(dir, 'repro');
    const exp = cli('export', u.file!, '--out', out);
    expect(exp.code).toBe(0);
    const src = exportRepro(u.file!, join(dir, 'repro2')).source as VmxReproSource;
    expect([src.projected, src.property, src.changed]).toEqual([false, null, ['host_tr_selector']]);
    expect(src.expected.map((e) => `${e.label}: ${describeVmxVerdict(e.verdict)}`)).toEqual([
      'expected by the engine on kvm-next: VMfailValid(8)', `expected by the engine on ${mutant}: VM exit 10 qualification 0x0`, 'as bochs-vmx ran it when found: VMfailValid(8)',
    ]);
    expect(readFileSync(join(out, 'repro.c'), 'utf8')).toMatch(/oracle counterexample, run as found[\s\S]*vmcs_write\(HOST_SEL_TR, 0x0\)/);
    expect(readFileSync(join(out, 'README.txt'), 'utf8')).toContain("an oracle counterexample as found: the harness's valid VMCS");
    const boot = await bootBochsImage(reproVmxBochsImage(src, reproVmxCpu()), BOCHS_VMX_CPU);
    expect(boot.lines.map((l) => l.replace(/^.*?(?=observed)/, ''))).toContain(`observed matches: expected by the engine on kvm-next, as bochs-vmx ran it when found`);

    const again = cli('oracle', '--emulator', 'bochs-vmx', '--cases', u.file!, '--profile', mutant, '--no-corpus');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/UNEXPLAINED #0 .*host-tr-selector-zero:0\n\s+engine: +VM exit 10.*\n\s+emulator: VMfailValid\(8\)/);

    // On kvm-next the engine fails VMLAUNCH with VMfailValid(8) as Bochs does. Beside it in the
    // directory: a project VMX counterexample (projected onto the harness and run) and a qemu-svm
    // oracle state (skipped with why).
    copyFileSync(join(REPO_ROOT, 'corpus', 'vmlaunch-outcome-order', '283bee6ea2b6a375.json'), join(dir, 'corpus', 'project.json'));
    const svm = buildOracleSvmCase(cpuFromCpuid('qemu64', []), DEFAULT_ORACLE_SVM_CHOICE, []);
    saveOracleCounterexample(join(dir, 'corpus'), {
      adapter: 'qemu-svm', model: 'qemu64', profile: 'kvm-next', found_at: '2026-11-26T07:00:00.000Z', seed: 1, case: svm,
      engine: { kind: 'invalid', exit_code: -1n }, emulator: { kind: 'invalid', exit_code: -1n }, diff: [], shrink_steps: [],
    });
    const fixed = await runOracleSession({ emulator: 'bochs-vmx', profile: getProfile('kvm-next')!, jobs: 1, cases: join(dir, 'corpus'), corpusDir: null, shrink: false });
    expect([fixed.states, fixed.unexplained.length]).toEqual([2, 0]);
    expect(fixed.skipped.map((x) => x.why)).toEqual(['found on qemu-svm (a nested-SVM state)']);
  }, 90_000);

  it('should project every nested-VMX corpus counterexample onto the harness and run it', () => {
    // vmfail-no-side-effects' counterexample carries three MSR lists: it runs in a boot of its own
    // with them loaded. Every other file of the corpus is skipped with why.
    const r = cli('oracle', '--emulator', 'bochs-vmx', '--cases', 'corpus', '--no-corpus', '--json');
    expect(r.code).toBe(0);
    const report = fromJson<VmxOracleSessionReport>(r.stdout);
    expect([report.states, report.unexplained.length]).toEqual([14, 0]);
    expect(report.skipped.every((x) => /^a (svm|mmu|mmu-pf|mmu-perm) scenario$/.test(x.why))).toBe(true);
  }, 60_000);

  it('should load the MSR-load list a state reads, in a boot of its own', async () => {
    // SDM 26.4: a VM-entry MSR-load entry with its reserved bits 63:32 set fails the entry (exit 34,
    // qualification = the entry's number, 1). Without the list in memory, Bochs would read zeros
    // (MSR 0, which it loads) and enter L2.
    const cpu = await probeVmxCpu(BOCHS_VMX);
    const list = VMX_MSR_LIST_SLOTS + 0x20000n;
    const c = buildOracleVmxCase(cpu, { snippet: 'cpuid', ept: false }, []);
    c.scenario.vmcs12.vm_entry_msr_load_count = 1;
    c.scenario.vmcs12.vm_entry_msr_load_addr = list;
    c.scenario.mem[memKey(list)] = 0xc0000102n | (1n << 32n);
    c.scenario.mem[memKey(list + 8n)] = 0n;
    expect(projectedMemory(c)).toEqual([{ gpa: Number(list), bytes: expect.any(Uint8Array) }]);
    const valid = buildOracleVmxCase(cpu, { snippet: 'cpuid', ept: false }, []);
    const r = await runVmxOracleBatch([valid, c], BOCHS_VMX, kvmNext, 1);
    expect(r.results.map((x) => [x.index, x.cmp.engine, x.cmp.emu])).toEqual([
      [0, { kind: 'exit', reason: 10, qualification: 0n }, { kind: 'exit', reason: 10, qualification: 0n }],
      [1, { kind: 'entry-failure', reason: 0x80000022, qualification: 1n }, { kind: 'entry-failure', reason: 0x80000022, qualification: 1n }],
    ]);
    const bare = await BOCHS_VMX.runBatch([pageList([encodeVmxStatePage(c.scenario.vmcs12, BOCHS_VMX.absentFields)])], 1);
    expect(bare.outcomes[0]).toMatchObject({ kind: 'exit', exit: { exit_reason: 10 } });
  }, 60_000);

  it('should turn a VMX oracle file that cannot run into a one-line error', () => {
    const dir = join(tmp.dir, 'bad');
    mkdirSync(dir);
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{"schema": "nestfuzz-oracle/1", "arch": "vmx", "adapter": "bochs-vmx"}');
    expectOneLineError(cli('oracle', '--emulator', 'bochs-vmx', '--cases', f), /bad\.json: case\.scenario is not a nested-VMX scenario/);
    expect(() => parseAnyOracleEntry(f, { schema: 'nestfuzz-oracle/1', arch: 'arm', adapter: 'bochs-vmx' })).toThrow(/arch is "arm", expected "svm" or "vmx"/);
    // A well-formed state (built on oracle.md §6's capability MSRs, no boot needed) whose verdict is not a VMX one.
    const cpu = vmxCpuFromDump('corei7_sandy_bridge_2600k', [], [0xd810000000002bn, 0x7f00000016n, 0xf7f9fffe0401e172n, 0x7fffff00036dffn, 0xffff000011ffn, 0x401e0n]);
    const state = buildOracleVmxCase(cpu, { snippet: 'cpuid', ept: true }, []);
    const entry = { schema: 'nestfuzz-oracle/1', arch: 'vmx', adapter: 'bochs-vmx', profile: 'kvm-next', case: state, engine: { kind: 'invalid' }, emulator: { kind: 'exit' }, diff: [] };
    expect(() => parseAnyOracleEntry(f, fromJson(toJson(entry)))).toThrow(/engine\.kind is "invalid", expected one of vmfail-invalid, /);
    // A single project file that holds no nested-VMX state: one line too.
    expectOneLineError(cli('oracle', '--emulator', 'bochs-vmx', '--cases', 'corpus/vmrun-failure-clean/09318fd0005179fb.json'), /cannot run on bochs-vmx: a svm scenario/);
  }, 30_000);

  it('should ride along a campaign as engine-agrees-with-bochs-vmx: pair, failure, corpus file, index bucket, triage', () => {
    const dir = join(tmp.dir, 'ride');
    mkdirSync(dir);
    // Campaign seed ride-2: the ride's first batch (200 states) holds host-tr-selector-zero at state 160.
    const r = cli('fuzz', '--time', '20s', '--oracle', 'bochs-vmx', '--profile', mutant, '--property', 'vmlaunch-verdict-matches-sdm', '--workers', '1', '--seed', 'ride-2', '--out', dir);
    expect(r.code).toBe(1);
    const summary = fromJson<{ pairs: { property: string; runs: number; failed: boolean }[]; failures: { property: string; corpusFile: string; shrinkLogFile: string; bucket: string; verdict: { code: string } }[] }>(
      readFileSync(join(dir, 'summary.json'), 'utf8'),
    );
    const pair = summary.pairs.find((p) => p.property === 'engine-agrees-with-bochs-vmx');
    expect(pair?.runs).toBeGreaterThanOrEqual(200);
    expect(pair?.failed).toBe(true);
    // Later batches are sized to the time left, so what else they find depends on the machine's speed.
    const found = summary.failures.filter((f) => f.property === 'engine-agrees-with-bochs-vmx' && f.verdict.code === 'unexplained:further/vmfail-valid:8/kind');
    expect(found).toHaveLength(1);
    expect(found[0].corpusFile).toContain(join('corpus', 'oracle', 'bochs-vmx'));
    expect(existsSync(found[0].corpusFile) && existsSync(found[0].shrinkLogFile)).toBe(true);
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/testsuite name="engine-agrees-with-bochs-vmx"[^>]*failures="[1-9]/);
    // The failure database has the bucket, and triage against an empty known corpus calls it new.
    const bucket = `engine-agrees-with-bochs-vmx|${mutant}|unexplained:further/vmfail-valid:8/kind`;
    expect(found[0].bucket).toBe(bucket);
    expect(readIndex(join(dir, 'corpus')).buckets[bucket]?.representative).toMatch(/^oracle\/bochs-vmx\/[0-9a-f]+\.json$/);
    mkdirSync(join(dir, 'known'));
    expect(triage(dir, join(dir, 'known')).fresh.map((b) => b.signature)).toContain(bucket);
  }, 60_000);
});
