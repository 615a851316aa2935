// Nested-walk counterexamples under EPT (scenario arch 'mmu', flavour 'vmx') export as explain-only
// images (explain.ts): the VMX reproducer runs one VMCS whose L2 executes CPUID or HLT on an
// identity EPT, and has no plan yet for building the counterexample's L2 page tables and L1 EPT in
// its memory and entering L2 at the access (the NPT counterpart is mmu/plan.ts). The image prints
// the engine's outcome on each profile and why it does not run the state.

import { loadCorpusFile } from '../../campaign/corpus.ts';
import { ORACLE_SCHEMA, readJsonFile } from '../oracleCorpus.ts';
import { explainC, explainImage, explainReadme, explainSource, type ExplainSource } from './explain.ts';

export const EPT_NOT_RUN = "it is a nested page-walk scenario under EPT: replaying it needs L2's page tables and L1's EPT built in the image and L2 entered at the access, and the VMX reproducer only runs L2 at one CPUID or HLT on an identity EPT; on a KVM host with nested=1, L0 walks L1's EPT in software for such an access (shadow EPT, nested_ept_inject_page_fault), which is what the counterexample exercises";

/** The explain-only export of a nested-walk counterexample under EPT, or null when `file` is another kind. */
export function vmxEptExport(file: string): { src: ExplainSource; content: { elf: Uint8Array; c: string; readme: string } } | null {
  const json = readJsonFile(file) as { schema?: unknown; case?: { scenario?: { arch?: unknown; flavour?: unknown } } } | null;
  if (!json || typeof json !== 'object' || json.schema === ORACLE_SCHEMA) return null;
  const s = json.case?.scenario;
  if (s?.arch !== 'mmu' || s.flavour !== 'vmx') return null;
  const src = explainSource(file, loadCorpusFile(file), EPT_NOT_RUN);
  return { src, content: { elf: explainImage(src), c: explainC(src), readme: explainReadme(src) } };
}
