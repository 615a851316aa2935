// Which counterexamples this directory exports, and how: nested-walk scenarios under NPT become
// NPT images (the SVM REPRO harness with L1's memory for the walk); what no guest image can reach
// (KVM's page-fault path and permission checks, RSM, KVM_SET_NESTED_STATE, nested walks the
// harness's L1 cannot set up) becomes an explain-only image. Anything else is another exporter's.

import { loadCorpusFile } from '../../../campaign/corpus.ts';
import type { NestedFaultScenario } from '../../../engine/mmu/nested_fault.ts';
import type { OracleCpu } from '../../cpu.ts';
import { ORACLE_SCHEMA, readJsonFile } from '../../oracleCorpus.ts';
import { explainExport, explainSource, type ExplainSource } from '../explain.ts';
import { corpusProfiles, hashOf, unexportable } from '../source.ts';
import { planNpt } from './plan.ts';
import { nptReproSource, type NptReproSource } from './source.ts';
import { nptC, nptImage, nptReadme } from './writers.ts';

export interface MmuExport {
  src: NptReproSource | ExplainSource;
  content: { elf: Uint8Array; c: string; readme: string };
}

type ScenarioHead = { arch?: string; entry?: string; flavour?: string };

/** Kinds no guest image reaches: unexportable() says why for each. */
function explainOnly(s: ScenarioHead): boolean {
  return s.arch === 'mmu-pf' || s.arch === 'mmu-perm' || (s.arch === 'svm' && (s.entry === 'rsm' || s.entry === 'set_nested_state'));
}

/** The export of a nested-walk or explain-only counterexample, or null when `file` is another kind. */
export function mmuExport(file: string, cpu: OracleCpu): MmuExport | null {
  const json = readJsonFile(file) as { schema?: unknown; case?: { scenario?: ScenarioHead } } | null;
  const head = json && typeof json === 'object' && json.schema !== ORACLE_SCHEMA ? json.case?.scenario : undefined;
  if (!head) return null;
  if (explainOnly(head)) {
    const e = loadCorpusFile(file);
    return explainExport(explainSource(file, e, unexportable(head) ?? 'no guest image reaches this path'));
  }
  if (head.arch !== 'mmu' || head.flavour !== 'svm') return null;
  const e = loadCorpusFile(file);
  const s = e.case.scenario as NestedFaultScenario;
  const { profiles, bug } = corpusProfiles(file, e);
  const plan = planNpt(s, cpu, profiles);
  if ('why' in plan) return explainExport(explainSource(file, e, plan.why));
  const src = nptReproSource(cpu, { file, hash: hashOf(file), entry: e, scenario: s, plan, profiles, bug });
  return { src, content: { elf: nptImage(src, cpu), c: nptC(src, cpu), readme: nptReadme(src, cpu) } };
}
