// Explain-only reproducers: for counterexamples no guest image can reach (KVM's page-fault path,
// its permission_fault tables, RSM, KVM_SET_NESTED_STATE, nested walks the harness's L1 cannot set
// up), repro.elf still boots and prints the title, the engine's outcome on kvm-next and with the bug,
// and why the state is not run, then exits through isa-debug-exit. It is the SVM REPRO harness with
// a data block that holds only that text and REPRO_FLAG_EXPLAIN (harness/repro.inc stops right
// after printing, before any CPU check, so it boots on any x86 host); repro.c is the state as a C
// initializer with the KVM path a selftest would drive, README.txt says the same.

import { getProperty } from '../../../properties/index.ts';
import type { AnyCase } from '../../../properties/types.ts';
import type { CorpusEntry } from '../../campaign/corpus.ts';
import { renderPageFault } from '../../campaign/pageFaultView.ts';
import { renderPermission } from '../../campaign/permissionView.ts';
import { safeVerdict } from '../../campaign/runner.ts';
import { buildWalkView } from '../../campaign/walkView.ts';
import type { NestedFaultScenario } from '../../engine/mmu/nested_fault.ts';
import type { PageFaultScenario } from '../../engine/mmu/page_fault/scenario.ts';
import type { PermissionScenario } from '../../engine/mmu/permission_check.ts';
import type { Profile } from '../../engine/profiles.ts';
import { run } from '../../engine/svm/run.ts';
import type { SvmScenario } from '../../engine/svm/scenario.ts';
import { zeroVmcb } from '../../arch/svm/vmcb.ts';
import { describeSvmVerdict, engineSvmVerdict } from '../svm/verdict.ts';
import { reproDataBlock, REPRO_FLAG_EXPLAIN } from './dataBlock.ts';
import { reproImageWith, reproTitleLine } from './image.ts';
import { REPRO_KVM_COMMAND, REPRO_TCG_COMMAND } from './readme.ts';
import { corpusProfiles, corpusTitle, hashOf, label, type CorpusReproIdentity } from './source.ts';

export interface ExplainSource extends CorpusReproIdentity {
  arch: 'explain';
  /** The engine's outcome per profile (kvm-next first), one line each. */
  expected: { label: string; text: string }[];
  /** Why no image runs the state. */
  notRun: string;
  /** The KVM path (ioctl, function) a selftest would drive instead. */
  kvmPath: string;
  scenario: AnyCase['scenario'];
  /** Nothing is projected, so nothing is lost: the not-run line says what the image cannot do. */
  lost: null;
}

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;

/** What the engine does with the state, as one line (the replay view's summary). */
function outcomeText(s: AnyCase['scenario'], p: Profile): string {
  switch (s.arch) {
    case 'mmu-pf': {
      // renderPageFault: the fault path, a blank line, then the result lines.
      const lines = renderPageFault(s as PageFaultScenario, p);
      return lines.slice(lines.indexOf('') + 1).join('; ').replace(/\s{2,}/g, ' ');
    }
    case 'mmu-perm':
      return renderPermission(s as PermissionScenario, p).slice(-1)[0];
    case 'mmu': {
      const v = buildWalkView(s as NestedFaultScenario, p);
      // The injected exit's fields, without the per-bit explanations (indented lines).
      const fields = v.injected?.lines.filter((l) => !/^\s/.test(l)).map((l) => l.replace(/\s{2,}/g, ' ')) ?? [];
      return [`outcome ${v.outcome}`, ...(v.l2Fault ? [v.l2Fault] : []), ...(v.injected ? [`${v.injected.title}: ${fields.join(', ')}`] : [])].join('; ');
    }
    case 'svm': {
      const r = run(s as SvmScenario, p);
      const failed = r.trace.failedChecks();
      const a = r.after;
      return [
        `outcome ${r.outcome}`,
        ...(failed.length ? [`failed checks ${failed.join(', ')}`] : []),
        ...(r.outcome === 'entered' || r.outcome === 'vmexit-invalid' ? [describeSvmVerdict(engineSvmVerdict(r))] : []),
        `L1 after: rip ${hex(a.regs.rip)} gif ${a.gif} guest_mode ${a.guest_mode} smm ${a.smm}`,
        ...r.trace.warns().map((w) => `WARN ${w}`),
      ].join('; ');
    }
    default:
      return 'no summary for this scenario kind';
  }
}

/** The path a KVM selftest would drive to reach the state, by scenario kind. */
function kvmPathOf(s: { arch?: string; entry?: string }): string {
  if (s.arch === 'svm' && s.entry === 'rsm') {
    return 'KVM_SMI (or an SMI from the local APIC) while L2 runs, then RSM in L1\'s SMM handler: svm_enter_smm() saves vmcb12\'s GPA in the SMRAM state save area, emulator_leave_smm() -> svm_leave_smm() re-checks the cached vmcb12 and re-enters L2 through enter_svm_guest_mode()';
  }
  if (s.arch === 'svm' && s.entry === 'set_nested_state') return 'the KVM_SET_NESTED_STATE ioctl (struct kvm_nested_state with KVM_STATE_NESTED_FORMAT_SVM, vmcb12 in data.svm): svm_set_nested_state()';
  if (s.arch === 'mmu-pf') return 'a guest access that faults into KVM: npf_interception() / kvm_handle_page_fault() / handle_ept_violation() -> kvm_mmu_page_fault() -> kvm_mmu_do_page_fault() -> kvm_faultin_pfn(), with the memslots set by KVM_SET_USER_MEMORY_REGION2 (guest_memfd) and private ranges by KVM_SET_MEMORY_ATTRIBUTES';
  if (s.arch === 'mmu-perm') return 'permission_fault() (arch/x86/kvm/mmu.h) with the bitmaps update_permission_bitmask() builds from CR0.WP, CR4.SMEP/SMAP/PKE and EFER.NXE: reached by a guest access KVM walks in software (shadow paging, npt=0 / ept=0, or the emulator)';
  if (s.arch === 'mmu') return 'an L2 access under nested paging that KVM walks in software (the emulator: walk_addr_generic() on the nested MMU, then nested_svm_inject_npf_exit() / nested_ept_inject_page_fault())';
  return 'the engine\'s entry point for this scenario kind';
}

/** An explain-only source for a corpus counterexample; `notRun` is why no image runs it. */
export function explainSource(file: string, e: CorpusEntry, notRun: string): ExplainSource {
  const { profiles, bug } = corpusProfiles(file, e);
  const s = e.case.scenario;
  const prop = getProperty(e.property);
  const expected = profiles.map((p) => {
    const v = prop ? safeVerdict(prop, e.case, { profile: p, strictArch: e.strict_arch === true }) : null;
    const judged = v === null ? '' : v.ok ? '; the invariant holds' : `; the invariant fails: ${v.code}: ${v.message}`;
    return { label: label(p), text: `${outcomeText(s, p)}${judged}` };
  });
  return {
    arch: 'explain', file, hash: hashOf(file), title: corpusTitle(e), property: e.property, bugProfile: bug.name,
    detail: `${e.verdict.code}: ${e.verdict.message}`, expected, notRun, kvmPath: kvmPathOf(s as { arch?: string; entry?: string }), scenario: s, lost: null,
  };
}

/** What the image prints: title, one line per profile, the not-run line. */
export function explainLines(src: ExplainSource): string[] {
  return [reproTitleLine(src), ...src.expected.map((x) => `${x.label}: ${x.text}`), `not run: ${src.notRun}`];
}

export function explainImage(src: ExplainSource): Uint8Array {
  return reproImageWith(reproDataBlock({ vmcb: zeroVmcb(), expected: [], header: `${explainLines(src).join('\n')}\n`, flags: REPRO_FLAG_EXPLAIN }));
}

/** The three files of an explain-only reproducer. */
export function explainExport(src: ExplainSource): { src: ExplainSource; content: { elf: Uint8Array; c: string; readme: string } } {
  return { src, content: { elf: explainImage(src), c: explainC(src), readme: explainReadme(src) } };
}

/** A C initializer for plain data: objects as designated initializers, bigints as u64 literals. */
function cInit(v: unknown, indent: string): string {
  const inner = `${indent}\t`;
  if (typeof v === 'bigint') return `${hex(v)}ULL`;
  if (typeof v === 'number') return Number.isInteger(v) ? (v < 0 ? String(v) : hex(v)) : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return '0';
  if (Array.isArray(v)) return v.length === 0 ? '{ }' : `{\n${v.map((x) => `${inner}${cInit(x, inner)},`).join('\n')}\n${indent}}`;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{ }';
  // Keys that are not C identifiers (memory maps keyed by GPA) become { key, value } pairs.
  if (entries.some(([k]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) return `{\n${entries.map(([k, x]) => `${inner}{ ${/^0x[0-9a-f]+$/i.test(k) ? `${k}ULL` : JSON.stringify(k)}, ${cInit(x, inner)} },`).join('\n')}\n${indent}}`;
  return `{\n${entries.map(([k, x]) => `${inner}.${k} = ${cInit(x, inner)},`).join('\n')}\n${indent}}`;
}

export function explainC(src: ExplainSource): string {
  const name = `nestfuzz_${src.hash.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const head = [
    `nestfuzz reproducer ${src.hash}: ${src.title}.`,
    `${src.property}: ${src.detail}`,
    '',
    `Not run by repro.elf: ${src.notRun}.`,
    `A KVM selftest would drive: ${src.kvmPath}.`,
    '',
    "The engine's outcome (nestfuzz's reference model of KVM):",
    ...src.expected.map((x) => `  ${x.label}: ${x.text}`),
    '',
    `${name}_state is the counterexample's state with nestfuzz's field names (src/engine/*/scenario.ts),`,
    'not a KVM structure: a selftest maps each field onto the ioctl or guest setup above.',
  ];
  return [
    '/*',
    head.map((l) => (l ? ` * ${l}` : ' *')).join('\n'),
    ' */',
    `static const struct nestfuzz_${src.scenario.arch.replace(/-/g, '_')}_state ${name}_state = ${cInit(src.scenario, '')};`,
    '',
  ].join('\n');
}

export function explainReadme(src: ExplainSource): string {
  const heading = `nestfuzz reproducer ${src.hash} (explain-only)`;
  return `${heading}
${'='.repeat(heading.length)}

Counterexample: ${src.file}
${src.title}
${src.detail}

This counterexample has no runnable image: ${src.notRun}.
A KVM selftest would drive ${src.kvmPath}.

Files
  repro.elf   a Multiboot v1 image that prints the lines below and exits (it runs no state and needs
              neither SVM nor VMX)
  repro.c     the state as a C initializer (nestfuzz's field names), with the KVM path in a comment
  README.txt  this file

What it prints (COM1 and port 0xE9):
${explainLines(src).map((l) => `  ${l}`).join('\n')}

Run it under QEMU TCG or KVM:
  ${REPRO_TCG_COMMAND}
  ${REPRO_KVM_COMMAND}

The counterexample itself replays with \`nestfuzz replay ${src.file}\` (trace, decoded state).
`;
}

