// `nestfuzz export` for nested-walk counterexamples under NPT and for explain-only ones: every
// corpus file of those kinds exports; each NPT image boots on QEMU TCG and the exit it observes is
// the one the engine's hardware path expects on kvm-next (or a listed divergence explains the
// difference); each explain-only image boots and prints its title, the engine's outcome per
// profile and why the state is not run.

import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE, type NestedFaultChoice } from '../../src/arbitraries/nestedFault.ts';
import { loadCorpusFile } from '../../src/campaign/corpus.ts';
import { runNestedFault, type NestedFaultScenario } from '../../src/engine/mmu/nested_fault.ts';
import { DEFAULT_PROFILE, getProfile } from '../../src/engine/profile_list.ts';
import { explainLines, type ExplainSource } from '../../src/oracle/export/explain.ts';
import { exportRepro, type ExportResult } from '../../src/oracle/export/export.ts';
import { ARENA_BASE } from '../../src/oracle/export/mmu/memory.ts';
import { faultVerdict, planNpt } from '../../src/oracle/export/mmu/plan.ts';
import { nptReproSource, type NptReproSource } from '../../src/oracle/export/mmu/source.ts';
import { nptHeaderLines, nptImage } from '../../src/oracle/export/mmu/writers.ts';
import { reproCpu } from '../../src/oracle/export/cpu.ts';
import { reproTitleLine } from '../../src/oracle/export/image.ts';
import { jsonFilesUnder } from '../../src/oracle/oracleCorpus.ts';
import { SVM_DIVERGENCES } from '../../src/oracle/svm/divergences.ts';
import { describeSvmVerdict, diffSvmVerdicts, type SvmVerdict } from '../../src/oracle/svm/verdict.ts';
import { REPO_ROOT, tempDir } from '../campaign/helpers.ts';
import { bootExports } from './bootRepro.ts';

const tmp = tempDir('export-mmu');
afterAll(() => tmp.cleanup());

type Head = { arch?: string; entry?: string; flavour?: string };
const head = (file: string): Head => (JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as { case: { scenario: Head } }).case.scenario;
const files = jsonFilesUnder(join(REPO_ROOT, 'corpus')).map((f) => relative(REPO_ROOT, f)).filter((f) => !f.split(/[\\/]/).includes('oracle'));
const walks = files.filter((f) => head(f).arch === 'mmu' && head(f).flavour === 'svm');
const unreachable = files.filter((f) => {
  const h = head(f);
  return h.arch === 'mmu-pf' || h.arch === 'mmu-perm' || (h.arch === 'svm' && (h.entry === 'rsm' || h.entry === 'set_nested_state'));
});
const out = (file: string): string => join(tmp.dir, file.replace(/[\\/]/g, '_'));
const npt: (ExportResult & { source: NptReproSource })[] = [];
const explained: (ExportResult & { source: ExplainSource })[] = [];
for (const file of [...walks, ...unreachable]) {
  const r = exportRepro(join(REPO_ROOT, file), out(file));
  if ('npt' in r.source) npt.push({ ...r, source: r.source as NptReproSource });
  else if ('notRun' in r.source) explained.push({ ...r, source: r.source });
}

const cpu = reproCpu();
const kvmNext = getProfile(DEFAULT_PROFILE)!;

/**
 * The observed exit is kvm-next's expectation, or a listed divergence of QEMU (or of the engine's
 * scope) explains the difference. engine-l2-inconsistent-mode does not count: it is about states
 * whose paging the harness did not build, and these images build L2's tables themselves.
 */
function checkObserved(src: NptReproSource, lines: string[]): void {
  const where = `${src.file}:\n${lines.join('\n')}`;
  const seen = observed(lines);
  expect(seen, where).not.toBeNull();
  const expectNext = src.expected[0].verdict;
  const diff = diffSvmVerdicts(expectNext, seen!);
  if (diff.length === 0) {
    expect(lines.find((l) => l.startsWith('observed matches')), where).toMatch(/^observed matches: expected on kvm-next\b/);
    return;
  }
  // An L2 string I/O that L1 does not intercept is emulated by L0 (KVM), not run by the CPU.
  const emulatedAccess = src.npt.plan.io !== null && !src.npt.plan.io.l1_intercepts;
  const ctx = { c: src.c, engine: expectNext, emu: seen!, diff, engineFailed: [], emulatedAccess };
  const listed = SVM_DIVERGENCES.filter((d) => d.id !== 'engine-l2-inconsistent-mode' && d.adapters.includes('qemu-svm') && d.explains(ctx)).map((d) => d.id);
  expect(listed, `${where}\nunexplained: ${diff.join(', ')}`).not.toEqual([]);
}

/** "observed: exit_code 0x.. exit_info_1 0x.. exit_info_2 0x.. exit_int_info 0x.. exit_int_info_err 0x.. ..." as a verdict. */
function observed(lines: string[]): SvmVerdict | null {
  const m = lines.map((l) => /^observed: exit_code (0x[0-9a-f]+) exit_info_1 (0x[0-9a-f]+) exit_info_2 (0x[0-9a-f]+) exit_int_info (0x[0-9a-f]+) exit_int_info_err (0x[0-9a-f]+)/.exec(l)).find((x) => x);
  if (!m) return null;
  const intInfo = BigInt(m[4]);
  return { kind: 'exit', exit_code: BigInt(m[1]), exit_info_1: BigInt(m[2]), exit_info_2: BigInt(m[3]), exit_int_info: intInfo & 0x80000000n ? intInfo | (BigInt(m[5]) << 32n) : 0n };
}

describe('nestfuzz export (nested walks, explain-only)', () => {
  it('should export every nested-walk counterexample under NPT and every one no guest image reaches', () => {
    expect(walks.length).toBe(9);
    expect(unreachable.length).toBe(16);
    // cve-2024-50115 needs a PAE L1 (3-level NPT), which the long-mode harness is not: explain-only.
    expect(npt.length).toBe(8);
    expect(explained.length).toBe(17);
    const pae = explained.find((r) => r.source.bugProfile === 'cve-2024-50115')!;
    expect(pae.source.notRun).toMatch(/L1's NPT has 3 levels: the CPU walks nCR3 in the host's paging mode/);
    for (const r of npt) expect(r.source.c.scenario.vmcb12.control.nested_cr3 & ~0xfffn).toBeGreaterThanOrEqual(ARENA_BASE);
  });

  it('should keep what the CPU reports: the moved memory gives the access the exit of the stored scenario', () => {
    for (const r of npt) {
      const s = r.source.npt.scenario;
      // The stored scenario's access made by the CPU, on its own addresses and MAXPHYADDR.
      const stored = faultVerdict(runNestedFault({ ...s, performer: 'hardware' }, kvmNext));
      const moved = faultVerdict(runNestedFault(r.source.npt.plan.projected, kvmNext));
      expect(moved && describeSvmVerdict(moved), r.source.file).toBe(stored && describeSvmVerdict(stored));
    }
  });

  it('should say when the bug lives in KVM\'s emulator path, and show what the counterexample\'s own access does', () => {
    const s = loadCorpusFile(join(REPO_ROOT, 'corpus/npf-fault-stage-exact/095cae231bbea778.json')).case.scenario as NestedFaultScenario;
    expect(s.performer).toBe('emulator');
    const r = npt.find((x) => x.source.file.endsWith('095cae231bbea778.json'))!;
    expect(r.title).toMatch(/\[note: the bug is in KVM's emulator walk/);
    const lines = nptHeaderLines(r.source, cpu);
    expect(lines).toContain("the counterexample's access (L0's emulator walk) on kvm-next: #VMEXIT NPF (0x400) exit_info_1 0x200000006 exit_info_2 0x200000 exit_int_info 0x0 (synthesized by L0's emulator)");
    expect(lines.find((l) => l.startsWith("the counterexample's access (L0's emulator walk) with the bug"))).toContain('exit_info_1 0x100000006');
    expect(readFileSync(r.files.readme, 'utf8')).toMatch(/NOTE: the bug is in KVM's emulator walk/);
    const c = readFileSync(r.files.c, 'utf8');
    expect(c).toMatch(/^static const struct \{ u64 gpa, val; \} nestfuzz_095cae231bbea778_l1_mem\[\] = \{$/m);
    expect(c).toMatch(/^\tvmcb->control\.nested_cr3 = 0x4[0-9a-f]{6};$/m);
    expect(c).toMatch(/^\treturn vmcb->control\.exit_code == SVM_EXIT_NPF &&$/m);
  });

  it('should boot every NPT image on QEMU TCG and observe the exit kvm-next expects', async () => {
    await bootExports(npt, (r, lines, where) => {
      expect(lines.slice(1, 1 + r.source.expected.length), where).toEqual(r.source.expected.map((e) => `${e.label}: ${describeSvmVerdict(e.verdict)}`));
      checkObserved(r.source, lines);
    });
  }, 30_000);

  it('should place L2\'s code and build the walk for generated states beyond the corpus, and QEMU should agree', async () => {
    // One state per shape the corpus does not have yet: each paging format, CPL 3, large pages,
    // a fetch, faults in L2's tables and at each stage of L1's NPT, an intercepted and an emulated
    // string I/O. Their images boot as the corpus ones do.
    const shapes: [Partial<NestedFaultChoice>, string | null][] = [
      [{ access: 'write' }, 'tdp-final-readonly'],
      [{ access: 'fetch', cpl: 3 }, 'tdp-final-noexec'],
      [{ access: 'read', page: 'large' }, 'tdp-table-readonly'],
      [{ access: 'write', cpl: 3 }, 'guest-leaf-supervisor'],
      [{ access: 'fetch' }, 'guest-leaf-nx'],
      [{ access: 'read' }, 'guest-leaf-rsvd'],
      [{ format: '32', access: 'write' }, 'tdp-final-missing'],
      [{ format: '32', access: 'read', cpl: 3, page: 'large' }, null],
      [{ format: 'pae', access: 'read' }, 'tdp-table-missing'],
      [{ format: 'pae', access: 'fetch' }, 'guest-leaf-missing'],
      [{ io: 'outs', ioRep: 3, ioDf: true, ioSize: 2, ioIntercepted: true }, null],
      [{ io: 'ins', ioIntercepted: false }, 'tdp-final-readonly'],
    ];
    const srcs = shapes.map(([choice, hole], i) => {
      const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, offset: 0x123, ...choice }, hole ? [[hole, 0]] : []);
      const plan = planNpt(c.scenario, cpu, [kvmNext]);
      if ('why' in plan) throw new Error(plan.why);
      const id = `generated-${i}-${JSON.stringify(choice).replace(/\W+/g, '')}-${hole}`;
      const entry = { property: 'generated', profile: DEFAULT_PROFILE, verdict: { code: 'none', message: 'a generated state' } } as never;
      const src = nptReproSource(cpu, { file: id, hash: id, entry, scenario: c.scenario, plan, profiles: [kvmNext], bug: kvmNext });
      const elf = join(tmp.dir, `${id}.elf`);
      writeFileSync(elf, nptImage(src, cpu));
      return { title: reproTitleLine(src), files: { elf }, source: src };
    });
    // A fetch starts at the access; the rest get L2 tables of their own for the code but where the
    // hole is in L2's top table, which every walk reads: read-only (every walk writes its accessed
    // bit, APM 15.25.6), or PAE's PDPT missing.
    expect(srcs.map((x) => x.source.npt.plan.placement)).toEqual(['own-tables', 'access-gva', 'access-page', 'own-tables', 'access-gva', 'own-tables', 'own-tables', 'own-tables', 'access-page', 'access-gva', 'own-tables', 'own-tables']);
    await bootExports(srcs, (x, lines) => checkObserved(x.source, lines));
  }, 30_000);

  it('should boot every explain-only image and print the title, the expected outcomes and why it is not run', async () => {
    await bootExports(explained, (r, lines, where) => {
      expect(lines.slice(0, 2 + r.source.expected.length), where).toEqual(explainLines(r.source));
      expect(lines[1 + r.source.expected.length], where).toMatch(/^not run: (it is|L1's NPT)/);
      expect(lines.some((l) => l.startsWith('observed') || l.startsWith('l1 cpu here')), where).toBe(false);
    });
    const rsm = explained.find((r) => r.source.file.includes('exit-roundtrip'))!;
    expect(explainLines(rsm.source).at(-1)).toBe('not run: it is entered by RSM, a KVM-internal path (KVM emulates RSM and re-enters L2 from its SMM state save area), which no guest image can set up');
  }, 30_000);

  it('should write repro.c as the state\'s C initializer with the KVM path a selftest would drive', () => {
    const sns = explained.find((r) => r.source.file.includes('set-nested-state-consistent'))!;
    const c = readFileSync(sns.files.c, 'utf8');
    expect(c).toContain('A KVM selftest would drive: the KVM_SET_NESTED_STATE ioctl');
    expect(c).toMatch(/^static const struct nestfuzz_svm_state nestfuzz_[0-9a-f]+_state = \{$/m);
    expect(c).toMatch(/^\t\.entry = "set_nested_state",$/m);
    const pf = explained.find((r) => r.source.file.includes('memory-fault-exit-exact'))!;
    expect(readFileSync(pf.files.c, 'utf8')).toContain('kvm_mmu_page_fault()');
    expect(readFileSync(pf.files.readme, 'utf8')).toMatch(/This counterexample has no runnable image: it is a KVM page-fault scenario/);
  });
});
