// `nestfuzz export` for nested-VMX counterexamples: every one in corpus/ exports; each repro.elf boots
// on QEMU TCG, which has no VMX, and prints its title, expected verdicts and why it did not run; and
// the same REPRO code, entered from Bochs's option ROM (harness/vmx.asm -DREPRO -DBOCHS), runs
// VMXON .. VMLAUNCH on Bochs's Intel model and prints an observed verdict that matches the one
// expected on kvm-next, or differs as a listed divergence (src/oracle/vmx/divergences.ts) explains.
// Nested walks under EPT export as explain-only images.

import { readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getProfile } from '../../src/engine/profile_list.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import { bootBochsImage, BOCHS_VMX_CPU } from '../../src/oracle/bochs.ts';
import type { ExplainSource } from '../../src/oracle/export/explain.ts';
import { exportRepro, type ExportResult } from '../../src/oracle/export/export.ts';
import { REPRO_KVM_COMMAND } from '../../src/oracle/export/readme.ts';
import { REPRO_VMX_CAPS, REPRO_VMX_CPUID, reproVmxCpu, reproVmxCpuLine } from '../../src/oracle/export/vmxCpu.ts';
import { EPT_NOT_RUN } from '../../src/oracle/export/vmxEpt.ts';
import { reproVmxBochsImage, VMX_NOT_RUN } from '../../src/oracle/export/vmxImage.ts';
import type { VmxReproSource } from '../../src/oracle/export/vmxSource.ts';
import { jsonFilesUnder } from '../../src/oracle/oracleCorpus.ts';
import { BOCHS_VMX } from '../../src/oracle/vmx/adapters.ts';
import { VMX_DIVERGENCES } from '../../src/oracle/vmx/divergences.ts';
import { probeVmxCpu } from '../../src/oracle/vmx/session.ts';
import { describeVmxVerdict, diffVmxVerdicts, type VmxVerdict } from '../../src/oracle/vmx/verdict.ts';
import { REPO_ROOT, tempDir } from '../campaign/helpers.ts';
import { bootExports } from './bootRepro.ts';

const tmp = tempDir('export-vmx');
afterAll(() => tmp.cleanup());

const kvmNext = getProfile('kvm-next')!;
const cpu = reproVmxCpu();

type Head = { arch?: string; flavour?: string };
const head = (f: string): Head => (JSON.parse(readFileSync(f, 'utf8')) as { case?: { scenario?: Head } }).case?.scenario ?? {};
const corpus = jsonFilesUnder(join(REPO_ROOT, 'corpus')).filter((f) => !relative(REPO_ROOT, f).split(/[\\/]/).includes('oracle'));
const out = (f: string): string => join(tmp.dir, `${basename(join(f, '..'))}_${basename(f, '.json')}`);
const exported = corpus.filter((f) => head(f).arch === 'vmx').map((f) => exportRepro(f, out(f)));
const vmx = (r: ExportResult): VmxReproSource => r.source as VmxReproSource;
const ept = corpus.filter((f) => head(f).arch === 'mmu' && head(f).flavour === 'vmx').map((f) => exportRepro(f, out(f)));

/** What the image printed after "observed:", as a verdict (vmx_repro.inc repro_vmx_report). */
function observedVerdict(line: string): VmxVerdict | null {
  let m = /^observed: VMfailValid vm_instruction_error 0x([0-9a-f]+) at VMLAUNCH$/.exec(line);
  if (m) return { kind: 'vmfail-valid', error: parseInt(m[1], 16) };
  if (line === 'observed: VMfailInvalid at VMLAUNCH') return { kind: 'vmfail-invalid' };
  m = /^observed: (?:VM exit|VM-entry failure) vm_exit_reason 0x([0-9a-f]+) exit_qualification 0x([0-9a-f]+) /.exec(line);
  if (m) {
    const reason = parseInt(m[1], 16) >>> 0;
    return { kind: reason & 0x80000000 ? 'entry-failure' : 'exit', reason, qualification: BigInt(`0x${m[2]}`) };
  }
  m = /^observed: exception in L1: vector 0x([0-9a-f]+) error_code 0x[0-9a-f]+ at VMLAUNCH$/.exec(line);
  if (m) return { kind: 'host-exception', vector: parseInt(m[1], 16) };
  return null;
}

/** Bochs runs, two at a time; the debugger's prompt may share a line with the first output: cut it. */
async function bochsAll(images: Uint8Array[]): Promise<{ lines: string[]; timedOut: boolean }[]> {
  const results: { lines: string[]; timedOut: boolean }[] = new Array(images.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const i = next++;
      const b = await bootBochsImage(images[i], BOCHS_VMX_CPU);
      results[i] = { lines: b.lines.map((l) => l.replace(/^.*?(?=nestfuzz repro )/, '')), timedOut: b.timedOut };
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

describe('nestfuzz export (nested VMX)', () => {
  it('should export every nested-VMX counterexample of the catalog', () => {
    // A change here is a change in exportability: update the count with the reason.
    expect(exported.length).toBe(14);
    for (const r of exported) {
      const s = vmx(r);
      expect(s.arch).toBe('vmx');
      expect(s.expected[0].label).toBe('expected on kvm-next');
      expect(s.expected.map((e) => e.label)).toContain(`expected with the bug (${s.bugProfile})`);
      expect(readFileSync(r.files.readme, 'utf8')).toContain(REPRO_KVM_COMMAND);
      // Bochs loads the image as option RAM, intact up to 128 KiB (oracle.md §4.2).
      expect(reproVmxBochsImage(s, cpu).length).toBeLessThanOrEqual(128 * 1024);
    }
  });

  it('should keep the consistency-check bugs and say when the projection loses the bug', () => {
    const kept = exported.filter((r) => !vmx(r).lost).map((r) => vmx(r).bugProfile);
    const lost = exported.filter((r) => vmx(r).lost);
    // Missing checks on vmcs12 fields stay visible on the image; L1-state and KVM-internal ones do not.
    expect(kept).toEqual(expect.arrayContaining(['mutant-no-host-tr-check', 'mutant-no-vpid-check']));
    expect(lost.map((r) => vmx(r).bugProfile)).toEqual(expect.arrayContaining(['cve-2019-7221', 'cve-2018-12904']));
    for (const r of lost) {
      expect(r.title).toMatch(/\[note: the projection onto this image loses the bug/);
      expect(readFileSync(r.files.readme, 'utf8')).toMatch(/NOTE: the projection onto this image loses the bug/);
    }
  });

  it('should assume the CPU the VMX harness reads on Bochs', async () => {
    const probed = await probeVmxCpu(BOCHS_VMX);
    expect(probed.cpuid).toEqual(REPRO_VMX_CPUID.map((l) => [...l]));
    expect({ maxphyaddr: cpu.maxphyaddr, guest: cpu.guest, caps: cpu.caps }).toEqual({ maxphyaddr: probed.maxphyaddr, guest: probed.guest, caps: probed.caps });
    expect(REPRO_VMX_CAPS.length).toBe(0x11);
  }, 30_000);

  it('should boot every image on QEMU TCG and print the title, the expected verdicts and why it did not run', async () => {
    await bootExports(exported, (r, lines, where) => {
      const s = vmx(r);
      expect(lines.slice(1, 2 + s.expected.length), where).toEqual([
        ...s.expected.map((e) => `${e.label}: ${describeVmxVerdict(e.verdict)}`),
        `expected verdicts assume l1 cpu ${BOCHS_VMX_CPU}: ${reproVmxCpuLine(cpu)}`,
      ]);
      expect(lines[2 + s.expected.length], where).toBe(VMX_NOT_RUN);
      expect(lines.some((l) => l.startsWith('observed')), where).toBe(false);
    });
    expect(ept.length).toBe(9);
    await bootExports(ept, (r, lines, where) => {
      expect((r.source as ExplainSource).arch, where).toBe('explain');
      expect(lines, where).toContain(`not run: ${EPT_NOT_RUN}`);
    });
  }, 60_000);

  it('should run the REPRO code on Bochs and match the verdict expected on kvm-next, or a listed divergence', async () => {
    // The images whose projection keeps the bug, and one that loses it.
    const picked = [...exported.filter((r) => !vmx(r).lost), exported.find((r) => vmx(r).lost)!];
    const runs = await bochsAll(picked.map((r) => reproVmxBochsImage(vmx(r), cpu)));
    const explained: string[] = [];
    picked.forEach((r, i) => {
      const s = vmx(r);
      const { lines } = runs[i];
      const where = `${s.file}:\n${lines.join('\n')}`;
      const at = lines.indexOf(r.title);
      expect(at, where).toBeGreaterThanOrEqual(0);
      const rest = lines.slice(at + 1);
      expect(rest.find((l) => l.startsWith('l1 cpu here: ')), where).toBe(`l1 cpu here: ${reproVmxCpuLine(cpu)}`);
      // Bochs is the CPU the verdicts assume: nothing to fit.
      expect(rest, where).toContain("controls as exported: they fit this CPU's VMX capability MSRs");
      // No report: L2 never exited (the watchdog ended Bochs) or Bochs reset; the oracle calls both a crash.
      const emu = observedVerdict(rest.find((l) => l.startsWith('observed: ')) ?? '') ?? { kind: 'crash', detail: runs[i].timedOut ? 'hang (no line for 2000 ms)' : 'no record' };
      const engine = s.expected[0].verdict;
      const diff = diffVmxVerdicts(engine, emu);
      const match = rest.find((l) => l.startsWith('observed matches'));
      if (diff.length === 0) {
        expect(match, where).toMatch(/^observed matches: expected on kvm-next(, |$)/);
        return;
      }
      const run = runVmx(s.c.scenario, kvmNext);
      const ctx = { c: s.c, engine, emu, diff, engineFailed: run.trace.failedChecks(), hardwareRule: run.hardware?.rule ?? null };
      const id = VMX_DIVERGENCES.find((d) => d.adapters.includes('bochs-vmx') && d.explains(ctx))?.id;
      expect(id, where).toBeDefined();
      explained.push(`${s.bugProfile}: ${id}`);
    });
    // Bochs departs where the divergence table says it does: it offers activity state 2 (shutdown),
    // which KVM never does, and it has no MSR-list count limit; the other states match kvm-next.
    expect(explained.sort()).toEqual(['msr-list-count-unchecked: kvm-msr-list-count-limit', 'mutant-no-activity-state-check: activity-shutdown-offered-by-model']);
    expect(picked.length - explained.length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('should fit a control this CPU does not allow and say so', async () => {
    // An export for a CPU that allows primary control bit 0 (reserved on Bochs's model, allowed-1
    // clear): the image clears it at run time, says so, and runs the base state.
    const r = exported.find((e) => vmx(e).bugProfile === 'mutant-no-host-tr-check')!;
    const s = structuredClone(vmx(r));
    s.c.scenario.vmcs12 = { ...vmx(r).c.scenario.vmcs12, host_tr_selector: 0x20, cpu_based_vm_exec_control: (vmx(r).c.scenario.vmcs12.cpu_based_vm_exec_control | 1) >>> 0 };
    const wider = { ...cpu, caps: { ...cpu.caps, procbasedCtlsHigh: (cpu.caps.procbasedCtlsHigh | 1) >>> 0 } };
    const [b] = await bochsAll([reproVmxBochsImage(s, wider)]);
    const before = vmx(r).c.scenario.vmcs12.cpu_based_vm_exec_control;
    const line = `adjusted cpu_based_vm_exec_control 0x${((before | 1) >>> 0).toString(16)} -> 0x${before.toString(16)} to this CPU's IA32_VMX_TRUE_PROCBASED_CTLS 0x${REPRO_VMX_CAPS[0xe].toString(16)}`;
    expect(b.lines, b.lines.join('\n')).toContain(line);
    expect(b.lines.find((l) => l.startsWith('observed: ')), b.lines.join('\n')).toMatch(/^observed: VM exit vm_exit_reason 0xa /);
  }, 30_000);

  it('should write repro.c as vmcs_write()s on top of init_vmcs() and the kvm-next check', () => {
    const r = exported.find((e) => vmx(e).bugProfile === 'mutant-no-host-tr-check')!;
    const c = readFileSync(r.files.c, 'utf8');
    expect(c).toMatch(/^static void nestfuzz_[0-9a-f]+\(void\)$/m);
    expect(c).toMatch(/^\tvmcs_write\(HOST_SEL_TR, 0x0\);\t\/\* host_tr_selector \*\/$/m);
    expect(c).toMatch(/^\ttest_vmx_vmlaunch\(VMXERR_ENTRY_INVALID_HOST_STATE_FIELD\);$/m);
    expect(c).toMatch(/^\t\{ PIN_CONTROLS, 0x[0-9a-f]+ \},$/m);
  });
});
