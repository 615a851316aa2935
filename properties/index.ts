// The property registry, keyed by id (the name users pass to `--property`).
import type { NestfuzzProperty } from './types.ts';
import { property as checkedIsRun } from './svm/checked-is-run.ts';
import { property as entryPathParity } from './svm/entry-path-parity.ts';
import { property as exitRoundtrip } from './svm/exit-roundtrip.ts';
import { property as gifSemantics } from './svm/gif-semantics.ts';
import { property as noWarn } from './svm/no-warn.ts';
import { property as profileEquivalence } from './svm/profile-equivalence.ts';
import { property as setNestedStateConsistent } from './svm/set-nested-state-consistent.ts';
import { property as vmcb02Sanitized } from './svm/vmcb02-sanitized.ts';
import { property as vmrunFailureClean } from './svm/vmrun-failure-clean.ts';
import { property as vmrunVerdictMatchesApm } from './svm/vmrun-verdict-matches-apm.ts';

export const PROPERTY_LIST: NestfuzzProperty[] = [
  vmrunFailureClean,
  vmrunVerdictMatchesApm,
  gifSemantics,
  checkedIsRun,
  vmcb02Sanitized,
  exitRoundtrip,
  entryPathParity,
  profileEquivalence,
  noWarn,
  setNestedStateConsistent,
];

export const PROPERTIES: ReadonlyMap<string, NestfuzzProperty> = new Map(PROPERTY_LIST.map((p) => [p.id, p]));

export function getProperty(id: string): NestfuzzProperty | undefined {
  return PROPERTIES.get(id);
}
