// `nestfuzz export` end to end: every catalog-bug counterexample in corpus/ that has a reproducer
// is exported, and each image boots on QEMU TCG (.ci/run installs qemu-system-x86 and nasm) and
// reports its counterexample, its expected verdicts, what the CPU did and which verdict that
// matches; the others are one-line errors saying why no guest image can replay them.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { buildOracleSvmCase } from '../../src/arbitraries/oracleSvm.ts';
import { jsonFilesUnder, saveOracleCounterexample } from '../../src/oracle/oracleCorpus.ts';
import { QEMU_CPU } from '../../src/oracle/qemu.ts';
import { reproCpu } from '../../src/oracle/export/cpu.ts';
import { exportRepro, type ExportResult } from '../../src/oracle/export/export.ts';
import { QEMU_SVM } from '../../src/oracle/svm/adapters.ts';
import { describeSvmVerdict } from '../../src/oracle/svm/verdict.ts';
import { probeCpu } from '../../src/oracle/session.ts';
import { expectOneLineError, REPO_ROOT, tempDir } from '../campaign/helpers.ts';

const tmp = tempDir('export');
afterAll(() => tmp.cleanup());

const files = jsonFilesUnder(join(REPO_ROOT, 'corpus')).map((f) => relative(REPO_ROOT, f)).filter((f) => !f.split(/[\\/]/).includes('oracle'));
const exported: ExportResult[] = [];
const refused: { file: string; error: NestfuzzError }[] = [];
for (const file of files) {
  try {
    exported.push(exportRepro(join(REPO_ROOT, file), join(tmp.dir, file.replace(/[\\/]/g, '_'))));
  } catch (e) {
    if (!(e instanceof NestfuzzError)) throw e;
    refused.push({ file, error: e });
  }
}

// An oracle counterexample (corpus/oracle/<adapter>/, none committed): linux-6.1 checks
// TLB_CONTROL, QEMU does not (README "Differential oracle").
const cpu = reproCpu();
const oracleCase = buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, [['tlb-ctl', 0]]);
const oracleFile = saveOracleCounterexample(join(tmp.dir, 'oracle-corpus'), {
  adapter: 'qemu-svm', model: QEMU_CPU, profile: 'linux-6.1', found_at: '2026-11-26T00:00:00.000Z', seed: 1, case: oracleCase,
  engine: { kind: 'invalid', exit_code: 0xffffffffffffffffn },
  emulator: { kind: 'exit', exit_code: 0x81n, exit_info_1: 0n, exit_info_2: 0n, exit_int_info: 0n },
  diff: ['kind'], shrink_steps: [],
}).file;
const fromOracle = exportRepro(oracleFile, join(tmp.dir, 'oracle-repro'));

/** Boots repro.elf as the README says (plus qboot and -no-reboot); COM1 is QEMU's stdout. */
function boot(elf: string, machine = { cpu: QEMU_CPU, mb: 256 }): Promise<{ status: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const args = ['-accel', 'tcg', '-cpu', machine.cpu, '-m', `${machine.mb}`, '-nographic', '-no-reboot', '-bios', 'qboot.rom', '-kernel', elf, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, lines: out.split(/\r?\n/) });
    });
  });
}

/** `nestfuzz <args>` as helpers.cli runs it, without blocking the event loop. */
function cliAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Two QEMU instances at a time (oracle.md §8: the machine has two cores). */
async function bootAll(elfs: string[]): Promise<{ status: number | null; lines: string[] }[]> {
  const results: { status: number | null; lines: string[] }[] = new Array(elfs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < elfs.length) {
      const i = next++;
      results[i] = await boot(elfs[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

describe('nestfuzz export', () => {
  it('should export every nested-SVM VMRUN counterexample of the catalog and refuse the rest', () => {
    // A change here is a change in exportability: update the count with the reason.
    expect(exported.length).toBe(38);
    expect(exported.every((r) => r.source.c.scenario.arch === 'svm' && r.source.projected)).toBe(true);
    expect(refused.length).toBe(files.length - exported.length);
    const why = new Set(refused.map((r) => /cannot be exported: it is (a nested-VMX|entered by RSM|entered by KVM_SET_NESTED_STATE|a KVM page-fault|a KVM permission-check|a nested page-walk)\b/.exec(r.error.message)?.[1]));
    expect([...why].sort()).toEqual(['a KVM page-fault', 'a KVM permission-check', 'a nested page-walk', 'a nested-VMX', 'entered by KVM_SET_NESTED_STATE', 'entered by RSM']);
    for (const r of refused) expect(r.error.toLine()).not.toContain('\n');
  });

  it('should say in the header when the projection loses the bug', () => {
    const lost = exported.filter((r) => r.source.lost);
    const kept = exported.filter((r) => !r.source.lost);
    // The consistency-check bugs stay visible on the image; L1-state and KVM-internal ones do not.
    expect(kept.map((r) => r.source.bugProfile)).toContain('no-ncr3-check');
    expect(lost.map((r) => r.source.bugProfile)).toContain('cve-2021-29657');
    for (const r of lost) {
      expect(r.title).toMatch(/\[note: the projection onto this image loses the bug/);
      expect(readFileSync(r.files.readme, 'utf8')).toMatch(/NOTE: the projection onto this image loses the bug/);
    }
  });

  it('should write repro.c as a kvm-unit-tests prepare/check pair over struct vmcb fields', () => {
    const r = exported.find((e) => e.source.bugProfile === 'no-ncr3-check')!;
    const c = readFileSync(r.files.c, 'utf8');
    expect(c).toMatch(/^static void prepare_nestfuzz_[0-9a-f]+\(struct svm_test \*test\)$/m);
    expect(c).toMatch(/^\tvmcb->control\.nested_ctl = 0x1;$/m);
    expect(c).toMatch(/^\tvmcb->control\.intercept = \(1ULL << INTERCEPT_HLT\)/m);
    expect(c).toMatch(/^\tvmcb->save\.efer = 0x[0-9a-f]+;$/m);
    expect(c).toMatch(/control\.nested_cr3 = 0x[0-9a-f]+: /);
    expect(c).toMatch(/^\treturn vmcb->control\.exit_code == SVM_EXIT_ERR;$/m);
    expect(readFileSync(r.files.readme, 'utf8')).toContain('qemu-system-x86_64 -accel kvm -cpu host -m 256 -nographic -kernel repro.elf -device isa-debug-exit,iobase=0xf4,iosize=4');
  });

  it('should assume the CPU the harness reads on QEMU', async () => {
    const probed = await probeCpu(QEMU_SVM);
    expect({ maxphyaddr: cpu.maxphyaddr, guest: cpu.guest }).toEqual({ maxphyaddr: probed.maxphyaddr, guest: probed.guest });
  });

  it('should export an oracle counterexample with the emulator verdict it was found with', () => {
    expect(fromOracle.source.expected.map((e) => e.label)).toEqual(['expected by the engine on kvm-next', 'expected by the engine on linux-6.1', 'as qemu-svm ran it when found']);
    expect(fromOracle.source.lost).toBeNull();
    expect(fromOracle.title).toMatch(/: engine vs qemu-svm divergence on linux-6\.1 \(kind\)$/);
  });

  it('should boot every exported image on QEMU TCG and report expected, observed and the match', async () => {
    const all = [...exported, fromOracle];
    const boots = await bootAll(all.map((r) => r.files.elf));
    // QEMU still does not check TLB_CONTROL: it runs the state as it did when the divergence was found.
    expect(boots[all.length - 1].lines).toContain('observed matches: expected by the engine on kvm-next, as qemu-svm ran it when found');
    all.forEach((r, i) => {
      const { status, lines } = boots[i];
      const where = `${r.source.file}:\n${lines.join('\n')}`;
      expect(status, where).toBe(1);
      const at = lines.indexOf(r.title);
      expect(at, where).toBeGreaterThanOrEqual(0);
      const rest = lines.slice(at + 1);
      expect(rest.slice(0, r.source.expected.length), where).toEqual(r.source.expected.map((e) => `${e.label}: ${describeSvmVerdict(e.verdict)}`));
      expect(rest.find((l) => l.startsWith('l1 cpu here: ')), where).toBe('l1 cpu here: MAXPHYADDR 0x28 CPUID 0x8000000A EDX 0x1');
      expect(rest.some((l) => /^observed: (exit_code 0x[0-9a-f]+ exit_info_1 0x[0-9a-f]+ exit_info_2 0x[0-9a-f]+ |VMRUN raised)/.test(l)), where).toBe(true);
      const match = rest.find((l) => l.startsWith('observed matches'));
      expect(match, where).toMatch(/^observed matches( none of the expected verdicts|: (expected|as) .+)$/);
    });
  }, 60_000);

  it('should print the header and say why it cannot run without SVM or with too little RAM', async () => {
    const r = exported[0];
    const [noSvm, small] = await Promise.all([boot(r.files.elf, { cpu: 'qemu64,-svm', mb: 256 }), boot(r.files.elf, { cpu: QEMU_CPU, mb: 128 })]);
    for (const b of [noSvm, small]) {
      expect(b.status).toBe(1);
      expect(b.lines).toContain(r.title);
      expect(b.lines.some((l) => l.startsWith('observed'))).toBe(false);
    }
    expect(noSvm.lines).toContain('cannot run: this CPU has no SVM (CPUID 0x80000001 ECX bit 2 is clear): boot it on an AMD host, or under QEMU TCG with -cpu qemu64,+svm,+npt');
    expect(small.lines.find((l) => l.startsWith('cannot run:'))).toMatch(/needs at least 256 MiB of RAM .*-m 256$/);
  });

  it('should be one command: exit 0 with the files written, exit 2 with one line for a VMX counterexample', async () => {
    const ok = exported.find((r) => r.source.bugProfile === 'no-ncr3-check')!;
    const out = join(tmp.dir, 'cli');
    const vmx = refused.find((e) => /nested-VMX/.test(e.error.message))!;
    // Two CLI processes side by side: each spends most of its time starting tsx.
    const [r, bad] = await Promise.all([cliAsync('export', ok.source.file, '--out', out), cliAsync('export', vmx.file, '--out', out)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(ok.title);
    expect(readFileSync(join(out, 'repro.elf')).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expectOneLineError(bad, /cannot be exported: it is a nested-VMX scenario: a VMX reproducer needs the VMX harness/);
  });
});
