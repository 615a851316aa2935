// The qemu-svm oracle end to end on QEMU TCG (.ci/run installs qemu-system-x86 and nasm): a
// fixed seeded batch agrees with the engine after the listed divergences, the adapter survives
// an emulator abort and a hang in the middle of a batch, and an engine profile with historical
// check differences is caught, shrunk to one mutation and written as a replayable file.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildOracleSvmCase } from '../../src/arbitraries/oracleSvm.ts';
import { encodeVmcb } from '../../src/arch/svm/codec.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import { fromJson } from '../../src/campaign/serialize.ts';
import { QEMU_SVM } from '../../src/oracle/svm/adapters.ts';
import { SVM_DIVERGENCES } from '../../src/oracle/svm/divergences.ts';
import { VMX_DIVERGENCES } from '../../src/oracle/vmx/divergences.ts';
import { forgetConfirmedPredictions } from '../../src/oracle/holdBack.ts';
import { encodeSvmCase, runSvmOracleBatch } from '../../src/oracle/svm/driver.ts';
import { probeCpu, runOracleSession } from '../../src/oracle/session.ts';
import { cli, expectOneLineError, tempDir } from '../campaign/helpers.ts';
import { encodedStates, pageList } from '../../src/oracle/statePages.ts';

const kvmNext = getProfile('kvm-next')!;

describe('qemu-svm oracle', () => {
  it('reads the CPU model from the harness: qemu64 with SVM and NPT, MAXPHYADDR 40', async () => {
    const cpu = await probeCpu(QEMU_SVM);
    expect(cpu.maxphyaddr).toBe(40);
    expect(cpu.guest.svm && cpu.guest.npt && cpu.guest.lm && cpu.guest.nx).toBe(true);
    expect(cpu.guest.vnmi || cpu.guest.la57 || cpu.guest.vmx).toBe(false);
  });

  it('agrees with the engine on a fixed batch after the listed divergences', async () => {
    const r = await runOracleSession({ emulator: 'qemu-svm', profile: kvmNext, jobs: 2, generate: { count: 400, seed: 20261126 }, corpusDir: null, shrink: false });
    expect(r.states).toBe(400);
    expect(r.unexplained).toEqual([]);
    // Most states must agree outright or through the INVALID encoding; the rest need a reason.
    expect(r.agree).toBeGreaterThan(100);
    expect(r.explained.find((d) => d.id === 'qemu-invalid-exit-code-low32')?.count).toBeGreaterThan(100);
  }, 120_000);

  it('compares #NPF exits field by field: L2 table pages and the code page missing from L1\'s NPT', async () => {
    const cpu = await probeCpu(QEMU_SVM);
    const states = [
      // APM 15.25.6: EXITINFO1 bit 33 for a fault on a guest paging structure, bit 32 for the final GPA.
      { choice: { mode: 'legacy32', np: true, snippet: 'vmmcall', npt: 'pd32-absent' }, info1: 0x200000006n, info2: 0xa00008n },
      { choice: { mode: 'legacy32', np: true, snippet: 'vmmcall', npt: 'pt32-absent' }, info1: 0x200000006n, info2: 0xa01400n },
      { choice: { mode: 'long64', np: true, snippet: 'vmmcall', npt: 'pml4-absent' }, info1: 0x200000006n, info2: 0x200000n },
      { choice: { mode: 'unpaged32', np: true, snippet: 'vmmcall', npt: 'code-absent' }, info1: 0x100000004n, info2: 0x900000n },
      { choice: { mode: 'legacy32', np: true, snippet: 'cpuid', npt: 'code-supervisor' }, info1: 0x100000005n, info2: 0x900020n },
    ] as const;
    const cases = states.map((st) => buildOracleSvmCase(cpu, st.choice, []));
    const r = await runSvmOracleBatch(cases, QEMU_SVM, kvmNext, 1);
    r.results.forEach((x, i) => {
      expect(x.cmp.diff, JSON.stringify(states[i].choice)).toEqual([]);
      expect(x.cmp.engine).toMatchObject({ kind: 'exit', exit_code: 0x400n, exit_info_1: states[i].info1, exit_info_2: states[i].info2 });
    });
  }, 60_000);

  it('lists every SVM and VMX divergence with who departs, a reason and a source', () => {
    // The VMX table (bochs-vmx) follows the same rules: every entry names an SDM section or KVM function.
    for (const d of [...SVM_DIVERGENCES, ...VMX_DIVERGENCES]) {
      expect(d.reason.length).toBeGreaterThan(40);
      expect(d.source).toMatch(/APM|SDM|KVM|oracle\.md|svm\.md/);
      expect(['emulator', 'kvm', 'engine-scope']).toContain(d.departs);
    }
    expect(new Set(SVM_DIVERGENCES.map((d) => d.id)).size).toBe(SVM_DIVERGENCES.length);
    expect(new Set(VMX_DIVERGENCES.map((d) => d.id)).size).toBe(VMX_DIVERGENCES.length);
  });

  it('records an emulator abort and a hang as crashes of those states and resumes with the next', async () => {
    const cpu = await probeCpu(QEMU_SVM);
    const valid = buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, []);
    // SS.DPL 3 makes QEMU change privilege to deliver the injected NMI; it aborts on the busy TSS.
    const abort = buildOracleSvmCase(cpu, { mode: 'unpaged32', np: true, snippet: 'vmmcall' }, [['segment-attr', 1], ['event-inj-soft-or-nmi', 0]]);
    // EFER.LMA set with paging off: QEMU delivers INT3 through 64-bit gates forever.
    const hang = buildOracleSvmCase(cpu, { mode: 'long64', np: false, snippet: 'int3' }, [['efer-lma-mismatch', 1]]);
    const pages = [valid, abort, valid, hang, valid].map((c) => encodeVmcb(c.scenario.vmcb12));
    const r = await QEMU_SVM.runBatch([pageList(pages)], 1);
    expect(r.outcomes.map((o) => o.kind)).toEqual(['exit', 'crash', 'exit', 'crash', 'exit']);
    expect(r.outcomes[1].kind === 'crash' && r.outcomes[1].detail).toMatch(/invalid tss type/);
    expect(r.outcomes[3].kind === 'crash' && r.outcomes[3].detail).toMatch(/hang/);
    for (const i of [0, 2, 4]) {
      const o = r.outcomes[i];
      expect(o.kind === 'exit' && o.exit.exit_code).toBe(0x81n);
    }
    expect(r.boots).toBe(3);
  }, 60_000);

  it('boots again from the pristine image after a crash: what the dead state wrote does not leak', async () => {
    const cpu = await probeCpu(QEMU_SVM);
    // The INT3 loop pushes over L2's stack and tables until the watchdog kills it; before each
    // boot wrote the static image again, the busy-TSS abort after it exited instead of aborting.
    // (Both found by seed 8 of the bench batch.)
    const hang = buildOracleSvmCase(cpu, { mode: 'long64', np: false, snippet: 'int3', npt: 'code-nx' }, [['efer-lma-mismatch', 149]]);
    const abort = buildOracleSvmCase(cpu, { mode: 'legacy32', np: false, snippet: 'nop', npt: 'identity' }, [['event-inj', 237], ['asid-large', 11], ['segment-attr', 253]]);
    const alone = await QEMU_SVM.runBatch([pageList([encodeVmcb(abort.scenario.vmcb12)])], 1);
    expect(alone.outcomes[0].kind === 'crash' && alone.outcomes[0].detail).toMatch(/invalid tss type/);
    const r = await QEMU_SVM.runBatch([pageList([hang, abort].map((c) => encodeVmcb(c.scenario.vmcb12)))], 1);
    expect(r.outcomes[0].kind === 'crash' && r.outcomes[0].detail).toMatch(/hang/);
    expect(r.outcomes[1].kind === 'crash' && r.outcomes[1].detail).toMatch(/invalid tss type/);
  }, 60_000);

  it('resumes after an abort early in a long lane, fed the states its predecessor had not written yet', async () => {
    // qemu.ts streams a lane's pages into the RAM file while QEMU runs: an abort 3 states in (about
    // 100 ms after the spawn) comes while most of 27,000 pages are still to be written, and the
    // resumed boot must get them; a second abort far later resumes from pages already in place.
    const cpu = await probeCpu(QEMU_SVM);
    const valid = buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, []);
    const abort = buildOracleSvmCase(cpu, { mode: 'unpaged32', np: true, snippet: 'vmmcall' }, [['segment-attr', 1], ['event-inj-soft-or-nmi', 0]]);
    const cases = Array.from({ length: 27_000 }, (_, i) => (i === 3 || i === 20_000 ? abort : valid));
    const r = await QEMU_SVM.runBatch([encodedStates(cases, encodeSvmCase)], 1);
    expect(r.boots).toBe(3);
    r.outcomes.forEach((o, i) => {
      if (i === 3 || i === 20_000) expect(o.kind === 'crash' && o.detail, `state ${i}`).toMatch(/invalid tss type/);
      else if (o.kind !== 'exit' || o.exit.exit_code !== 0x81n) expect.fail(`state ${i}: ${o.kind}`);
    });
  }, 60_000);

  it('holds back states predicted to abort QEMU: one confirms the prediction, the rest are not run', async () => {
    forgetConfirmedPredictions();
    const cpu = await probeCpu(QEMU_SVM);
    const valid = buildOracleSvmCase(cpu, { mode: 'long64', np: true, snippet: 'vmmcall' }, []);
    const abort = (k: number) => buildOracleSvmCase(cpu, { mode: 'unpaged32', np: true, snippet: 'vmmcall' }, [['segment-attr', 1], ['event-inj-soft-or-nmi', k]]);
    // An injected NMI (k = 0) or exception (k = 2) aborts; a software interrupt (k = 1) takes #GP on
    // its gate's DPL first and exits, so it is not predicted.
    const r = await runSvmOracleBatch([abort(0), valid, abort(2), valid, abort(3)], QEMU_SVM, kvmNext, 1);
    // The confirmation ran at the end of the lane, so the abort ended the boot instead of costing a second one.
    expect(r.boots).toBe(1);
    const details = r.results.map((x) => (x.cmp.emu.kind === 'crash' ? x.cmp.emu.detail : x.cmp.emu.kind));
    expect(details[1]).toBe('exit');
    expect(details[3]).toBe('exit');
    expect(details[0]).toMatch(/invalid tss type/);
    for (const i of [2, 4]) expect(details[i]).toMatch(/^not run, predicted \(.*confirmed on state 0 .*invalid tss type/);
    // Each is still judged: the listed divergence explains the crash.
    for (const i of [0, 2, 4]) expect(r.results[i].cmp.explainedBy).toBe('qemu-abort-invalid-tss');
    // A later batch of the same process trusts the confirmed prediction: no boot to confirm it.
    const again = await runSvmOracleBatch([abort(5), valid], QEMU_SVM, kvmNext, 1);
    expect(again.boots).toBe(1);
    expect(again.results[0].cmp.emu.kind === 'crash' && again.results[0].cmp.emu.detail).toMatch(/^not run, predicted \(.*confirmed on a state of an earlier batch.*invalid tss type/);
    expect(again.results[1].cmp.emu.kind).toBe('exit');
  }, 60_000);

  it('catches linux-6.1\'s check differences, shrinks each to one mutation and replays the file', () => {
    const t = tempDir('oracle');
    try {
      const found = cli('oracle', '--emulator', 'qemu-svm', '--generate', '300', '--seed', '1', '--profile', 'linux-6.1', '--corpus', t.dir, '--json', '--jobs', '2');
      expect(found.code).toBe(1);
      const report = fromJson<{ unexplained: { mutations: string[]; file: string; engine_failed_checks: string[] }[] }>(found.stdout);
      // linux-6.1 still had the TLB_CONTROL check KVM later reverted (C6), and lacked the EVENTINJ check (C8).
      const tlb = report.unexplained.find((u) => u.engine_failed_checks[0] === 'tlb-ctl-reserved');
      expect(tlb?.mutations).toEqual(['tlb-ctl:0']);
      for (const u of report.unexplained) expect(u.mutations).toHaveLength(1);
      const again = cli('oracle', '--emulator', 'qemu-svm', '--cases', tlb!.file, '--profile', 'linux-6.1', '--no-corpus');
      expect(again.code).toBe(1);
      expect(again.stdout).toMatch(/UNEXPLAINED/);
      // On today's kernel the same state is one QEMU and KVM agree on.
      const fixed = cli('oracle', '--emulator', 'qemu-svm', '--cases', tlb!.file, '--no-corpus');
      expect(fixed.code).toBe(0);
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('projects a nested-SVM corpus counterexample onto the harness and skips what cannot run', () => {
    // gif-semantics' counterexamples are VMRUN failures: projected, they fail on QEMU too.
    const r = cli('oracle', '--emulator', 'qemu-svm', '--cases', 'corpus/gif-semantics', '--no-corpus', '--json');
    expect(r.code).toBe(0);
    const report = fromJson<{ states: number; unexplained: unknown[]; explained: { id: string }[] }>(r.stdout);
    expect(report.states).toBeGreaterThan(0);
    expect(report.explained.map((d) => d.id)).toEqual(['qemu-invalid-exit-code-low32']);
    // A VMX counterexample cannot run on an SVM emulator: one line, exit 2.
    expectOneLineError(cli('oracle', '--emulator', 'qemu-svm', '--cases', 'corpus/vmlaunch-outcome-order/283bee6ea2b6a375.json'), /cannot run on qemu-svm: a vmx scenario/);
  }, 60_000);

  it('rides along a campaign as engine-agrees-with-qemu-svm: pair, failures and corpus files in the summary', () => {
    const t = tempDir('oracle-ride');
    try {
      const r = cli('fuzz', '--time', '6s', '--oracle', 'qemu-svm', '--profile', 'linux-6.1', '--property', 'gif-semantics', '--workers', '1', '--out', t.dir);
      expect(r.code).toBe(1);
      const summary = fromJson<{ pairs: { property: string; runs: number; failed: boolean }[]; failures: { property: string; corpusFile: string; shrinkLogFile: string }[] }>(
        readFileSync(join(t.dir, 'summary.json'), 'utf8'),
      );
      const pair = summary.pairs.find((p) => p.property === 'engine-agrees-with-qemu-svm');
      expect(pair?.runs).toBeGreaterThan(0);
      expect(pair?.failed).toBe(true);
      const found = summary.failures.filter((f) => f.property === 'engine-agrees-with-qemu-svm');
      expect(found.length).toBeGreaterThan(0);
      for (const f of found) {
        expect(f.corpusFile).toContain(join('corpus', 'oracle', 'qemu-svm'));
        expect(existsSync(f.corpusFile) && existsSync(f.shrinkLogFile)).toBe(true);
      }
      expect(readFileSync(join(t.dir, 'junit.xml'), 'utf8')).toMatch(/testsuite name="engine-agrees-with-qemu-svm"[^>]*failures="1"/);
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('turns bad input into one-line errors', () => {
    expectOneLineError(cli('fuzz', '--time', '1s', '--oracle', 'bochs-nope'), /unknown emulator "bochs-nope"/);
    expectOneLineError(cli('oracle', '--emulator', 'nope', '--generate', '10'), /unknown emulator "nope"/);
    expectOneLineError(cli('oracle', '--emulator', 'qemu-svm'), /exactly one of --generate N or --cases/);
    expectOneLineError(cli('oracle', '--emulator', 'qemu-svm', '--generate', 'ten'), /--generate "ten" is not a positive whole number/);
    const t = tempDir('oracle-bad');
    try {
      const f = join(t.dir, 'bad.json');
      writeFileSync(f, '{"schema": "nestfuzz-oracle/1", "adapter": "qemu-svm"}');
      expectOneLineError(cli('oracle', '--emulator', 'qemu-svm', '--cases', f), /case\.scenario is not a nested-SVM scenario/);
      writeFileSync(f, '{ not json');
      expectOneLineError(cli('oracle', '--emulator', 'qemu-svm', '--cases', f), /is not valid JSON/);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
