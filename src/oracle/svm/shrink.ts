// What the batched shrinker (../shrink.ts) needs from the SVM side: the failure signature a
// candidate must keep, and the states one step simpler than an oracle SVM state (a mutation
// dropped, a variant index lowered to 0, a base choice — mode, np, snippet, npt — set to its default).

import { buildOracleSvmCase, ORACLE_SVM_MUTATION_IDS } from '../../arbitraries/oracleSvm.ts';
import { DEFAULT_ORACLE_SVM_CHOICE } from '../../arbitraries/_internals/builders/oracleSvmBase.ts';
import { tableShrinkRules } from '../shrink.ts';
import type { SvmComparison } from './compare.ts';

/**
 * What must stay the same for a candidate to count as the same failure: the two verdict kinds and
 * the differing fields; exit codes only when both sides exited (when one side failed VMRUN, the
 * other's exit code is incidental and the snippet may shrink). "/"-separated, so it can name a
 * failure-database bucket (whose signature is "|"-separated).
 */
export function svmFailureSignature(cmp: SvmComparison): string {
  const both = cmp.engine.kind === 'exit' && cmp.emu.kind === 'exit';
  const code = (v: SvmComparison['engine']): string => (both && v.kind === 'exit' ? `exit:${v.exit_code.toString(16)}` : v.kind);
  return `${code(cmp.engine)}/${code(cmp.emu)}/${cmp.diff.join(',')}`;
}

/** The signature and the engine's first failed check: an SVM engine that rejects a VMCB the emulator runs does so by one named check. */
export function svmBucketKey(cmp: SvmComparison): string {
  return `${svmFailureSignature(cmp)}|${cmp.engineFailed[0] ?? ''}`;
}

/** Rebuilt from the oracle's own mutation table (a state projected from a project corpus file is not). */
export const svmShrinkRules = tableShrinkRules(
  { ids: ORACLE_SVM_MUTATION_IDS, defaults: DEFAULT_ORACLE_SVM_CHOICE, build: buildOracleSvmCase },
  { signature: svmFailureSignature, bucketKey: svmBucketKey },
);
