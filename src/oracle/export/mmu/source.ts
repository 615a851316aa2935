// A nested-walk counterexample (arch 'mmu', flavour 'svm') as a reproducer: the plan's memory and
// L2 state as one VMCB the SVM REPRO harness runs (NP_ENABLE, nested_cr3 = the moved nCR3, L2's
// CR0/CR3/CR4/EFER/CPL/RFLAGS, RIP = L2's code, RAX = the access's GVA), with the verdicts the
// engine's hardware path expects on kvm-next and with the bug, and, as text, what the
// counterexample's own access does on each (its performer: KVM's emulator walk, or the CPU).

import { buildOracleSvmCase, type OracleSvmCase } from '../../../arbitraries/oracleSvm.ts';
import { CR0, EFER, INTERCEPT, setIntercept } from '../../../arch/svm/defs.ts';
import type { CorpusEntry } from '../../../campaign/corpus.ts';
import { runNestedFault, type NestedFaultResult, type NestedFaultScenario } from '../../../engine/mmu/nested_fault.ts';
import type { Profile } from '../../../engine/profiles.ts';
import { run } from '../../../engine/svm/run.ts';
import type { OracleCpu } from '../../cpu.ts';
import { describeSvmVerdict, engineSvmVerdict, type SvmVerdict } from '../../svm/verdict.ts';
import { corpusTitle, label, type ReproExpectation, type ReproSource } from '../source.ts';
import { ARENA_BASE } from './memory.ts';
import { faultVerdict, imageVerdict, type NptPlan } from './plan.ts';

export interface NptReproSource extends ReproSource {
  npt: {
    plan: NptPlan;
    /** The counterexample as stored (its L1 addresses, its performer). */
    scenario: NestedFaultScenario;
    /** What the counterexample's own access does on each profile, one line each. */
    accessLines: string[];
    /** How the image lays the scenario out, one line each. */
    imageLines: string[];
  };
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** The VMCB: the harness's valid base for L2's mode, with the plan's nested and paging state. */
function nptCase(cpu: OracleCpu, plan: NptPlan): OracleSvmCase {
  const g = plan.image.guest;
  const long = plan.format === 'long4';
  const c = buildOracleSvmCase(cpu, { mode: long ? 'long64' : plan.format === 'nonpaged' ? 'unpaged32' : 'legacy32', np: true, snippet: 'vmmcall' }, []);
  const v = c.scenario.vmcb12;
  v.control.nested_cr3 = plan.image.tdp.kind === 'npt' ? plan.image.tdp.ncr3 : 0n;
  const dpl = g.cpl & 3;
  // The image's code is 32- or 64-bit protected-mode code: PE stays set (the walk only reads PG).
  Object.assign(v.save, { cr0: g.cr0 | CR0.PE, cr3: g.cr3, cr4: g.cr4, efer: g.efer | EFER.SVME, cpl: dpl, rflags: g.rflags, rip: plan.rip, rax: plan.rax });
  // The segments' DPL is L2's CPL (QEMU takes the CPL from SS.DPL: divergences.ts qemu-cpl-from-ss-dpl).
  v.save.cs.attrib = (long ? 0xa9b : 0xc9b) | (dpl << 5);
  for (const seg of [v.save.ss, v.save.ds, v.save.es, v.save.fs, v.save.gs]) seg.attrib = 0xc93 | (dpl << 5);
  // L1 intercepts the INS/OUTS port: IOIO_PROT on, and the port's IOPM bits (writers.ts iopmSegments).
  if (plan.io?.l1_intercepts) setIntercept(v.control.intercepts, INTERCEPT.IOIO_PROT);
  if (plan.l1Nxe) c.scenario.l1.efer |= EFER.NX;
  c.scenario.l2 = [{ op: 'vmmcall' }];
  return { ...c, mutations: ['projected-from-corpus:0'] };
}

/** One line for what runNestedFault did with the counterexample's access. */
function accessLine(r: NestedFaultResult): string {
  const v = faultVerdict(r);
  if (!v) return r.emulated.length > 0 ? `the access completes (L0's emulator made ${r.emulated.length} access(es))` : 'the access completes, nothing exits to L1';
  const how = r.injected_svm ? (r.injected_from_hardware ? ' (reflected from the hardware #NPF)' : " (synthesized by L0's emulator)") : '';
  const also = r.io_exit_to_l1 && r.emulated.length > 0 ? `, and L0's emulator also made ${r.emulated.length} of its access(es)` : '';
  return `${describeSvmVerdict(v)}${how}${also}`;
}

const same = (xs: readonly ReproExpectation[]): boolean => xs.every((x) => describeSvmVerdict(x.verdict) === describeSvmVerdict(xs[0].verdict));

export interface NptSourceInput {
  file: string;
  hash: string;
  entry: CorpusEntry;
  scenario: NestedFaultScenario;
  plan: NptPlan;
  /** kvm-next first, then the counterexample's profile(s). */
  profiles: readonly Profile[];
  bug: Profile;
}

export function nptReproSource(cpu: OracleCpu, x: NptSourceInput): NptReproSource {
  const { plan, scenario: s, entry: e } = x;
  const c = nptCase(cpu, plan);
  const expected: ReproExpectation[] = x.profiles.map((p) => {
    // VMRUN's own checks first (the image's VMCB on the reproducer's CPU), then L2's accesses.
    const r = run(c.scenario, p);
    const verdict: SvmVerdict = r.outcome === 'entered' ? imageVerdict(plan, p) : engineSvmVerdict(r);
    return { label: label(p), verdict };
  });
  const performer = s.io ? "the CPU's I/O exit, then L0" : s.performer === 'emulator' ? "L0's emulator walk" : 'the CPU';
  const accessLines = x.profiles.map((p) => `the counterexample's access (${performer}) ${label(p).replace(/^expected /, '')}: ${accessLine(runNestedFault(s, p))}`);
  const oldNcr3 = s.tdp.kind === 'npt' ? s.tdp.ncr3 : 0n;
  const where = plan.placement === 'own-tables' ? 'its own L2 tables' : plan.placement === 'access-gva' ? 'the access itself' : "the access's page";
  const imageLines = [
    `image: L2 (${plan.format}, CPL ${plan.image.guest.cpl}) runs \`${plan.code.text}\` at ${hex(plan.rip)} (mapped by ${where}), rax = ${hex(plan.rax)}; L1's pages moved to ${hex(ARENA_BASE)}+, nested_cr3 ${hex(oldNcr3)} -> ${hex(c.scenario.vmcb12.control.nested_cr3)}`,
    ...plan.notes.map((n) => `image: ${n}`),
  ];
  // The image's access is the CPU's: KVM reflects the hardware's exit (nested_svm_inject_npf_exit
  // with the hardware's exit_info, or the IOIO exit as vmcb02 has it), so a bug in what L0's own
  // emulator does cannot show.
  const bugLost = s.io
    ? "the bug is in KVM's emulator (L0 emulating an L2 INS/OUTS that L1 intercepts); here L1 gets the CPU's IOIO exit as KVM reflects it, so the hardware verdict cannot show it (see the counterexample's access below)"
    : s.performer === 'emulator'
      ? "the bug is in KVM's emulator walk (L0 walks L2's tables in software and writes the #NPF itself); here the CPU walks and KVM reflects its #NPF, so the hardware verdict cannot show it (see the counterexample's access below)"
      : `the engine gives ${x.profiles.map((p) => p.name).join(' and ')} the same hardware verdict on this state`;
  return {
    file: x.file, hash: x.hash, property: e.property, bugProfile: x.bug.name, detail: `${e.verdict.code}: ${e.verdict.message}`,
    title: corpusTitle(e),
    c, projected: true, expected, lost: same(expected) ? bugLost : null,
    npt: { plan, scenario: s, accessLines, imageLines },
  };
}
