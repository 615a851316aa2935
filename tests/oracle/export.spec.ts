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
import { bootExports, bootRepro as boot } from './bootRepro.ts';
import { reproCpu } from '../../src/oracle/export/cpu.ts';
import { exportRepro, type ExportResult } from '../../src/oracle/export/export.ts';
import type { ReproSource } from '../../src/oracle/export/source.ts';
import { QEMU_SVM } from '../../src/oracle/svm/adapters.ts';
import { describeSvmVerdict } from '../../src/oracle/svm/verdict.ts';
import { probeCpu } from '../../src/oracle/session.ts';
import { expectOneLineError, REPO_ROOT, tempDir } from '../campaign/helpers.ts';

const tmp = tempDir('export');
afterAll(() => tmp.cleanup());

const files = jsonFilesUnder(join(REPO_ROOT, 'corpus')).map((f) => relative(REPO_ROOT, f)).filter((f) => !f.split(/[\\/]/).includes('oracle'));
type SvmExport = ExportResult & { source: ReproSource };
const exported: SvmExport[] = [];
/** Nested-VMX exports: tests/oracle/exportVmx.spec.ts boots them. */
const exportedVmx: ExportResult[] = [];
/** Explain-only exports (export/explain.ts) and nested walks under NPT (export/mmu/): tests/oracle/exportMmu.spec.ts boots them. */
const explained: ExportResult[] = [];
const exportedNpt: ExportResult[] = [];
const refused: { file: string; error: NestfuzzError }[] = [];
for (const file of files) {
  try {
    const r = exportRepro(join(REPO_ROOT, file), join(tmp.dir, file.replace(/[\\/]/g, '_')));
    const arch = 'arch' in r.source ? r.source.arch : 'npt' in r.source ? 'npt' : 'svm';
    if (arch === 'svm') exported.push({ ...r, source: r.source as ReproSource });
    else if (arch === 'vmx') exportedVmx.push(r);
    else if (arch === 'npt') exportedNpt.push(r);
    else explained.push(r);
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

/** `nestfuzz <args>` as helpers.cli runs it, without blocking the event loop. */
function cliAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stdout.on('data', (d: string) => (stdout += d));
    p.stderr.on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('nestfuzz export', () => {
  it('should export every nested-SVM VMRUN and nested-VMX counterexample of the catalog and refuse the rest', () => {
    // A change here is a change in exportability: update the count with the reason.
    expect(exported.length).toBe(38);
    expect(exportedVmx.length).toBe(14);
    expect(exported.every((r) => r.source.c.scenario.arch === 'svm' && r.source.projected)).toBe(true);
    // Nested walks under NPT run (8); RSM, KVM_SET_NESTED_STATE, KVM's page-fault path and
    // permission checks, and the PAE-NPT walk of cve-2024-50115 are explain-only (17), and so are
    // the nested walks under EPT (9, export/vmxEpt.ts).
    expect(exportedNpt.length).toBe(8);
    expect(explained.length).toBe(17 + 9);
    expect(refused.length).toBe(files.length - exported.length - exportedVmx.length - explained.length - exportedNpt.length);
    for (const r of refused) expect(r.error.message).toMatch(/cannot be exported: it is a nested page-walk scenario under EPT\b/);
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
    const all = [...exported, { ...fromOracle, source: fromOracle.source as ReproSource }];
    await bootExports(all, (r, lines, where) => {
      // QEMU still does not check TLB_CONTROL: it runs the state as it did when the divergence was found.
      if (r.source === all[all.length - 1].source) expect(lines).toContain('observed matches: expected by the engine on kvm-next, as qemu-svm ran it when found');
      const rest = lines.slice(1);
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

  it('should be one command: exit 0 with the files written, exit 2 with one line for an input it refuses', async () => {
    const ok = exported.find((r) => r.source.bugProfile === 'no-ncr3-check')!;
    const out = join(tmp.dir, 'cli');
    // Two CLI processes side by side: each spends most of its time starting tsx.
    const [r, bad] = await Promise.all([cliAsync('export', ok.source.file, '--out', out), cliAsync('export', 'corpus', '--out', out)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(ok.title);
    expect(readFileSync(join(out, 'repro.elf')).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expectOneLineError(bad, /corpus is not a file/);
  });
});
