// Shrinking an unexplained engine/emulator disagreement, batched, for either architecture: every
// candidate one step simpler (a mutation dropped, a variant index lowered to 0, a base choice set
// to its default) runs in one emulator boot, the first that still shows the same disagreement
// (same failure signature) is kept, and the loop repeats until no candidate does. A boot costs far
// more than a state (Bochs VMX: ~1.6 s against ~0.15 ms), hence one boot per round rather than one
// per candidate. The final state is confirmed alone in a fresh emulator, so it does not rest on
// state leaked from its batch.

import type { Profile } from '../engine/profiles.ts';
import type { OracleArch, OracleCaseLike, OracleComparison, OracleShrinkRules, OracleShrinkStep, OracleVerdictLike } from './tally.ts';

export interface OracleShrinkResult<C extends OracleCaseLike, V> {
  c: C;
  cmp: OracleComparison<V>;
  steps: OracleShrinkStep<C['choice']>[];
  boots: number;
  /** `stop` ended the rounds before no candidate was left: the state may not be 1-minimal. */
  cutShort: boolean;
}

/** Rounds at most: each drops a mutation, lowers an index or resets a choice, so a state of k mutations needs ≤ 2k + |choice|. */
const MAX_ROUNDS = 64;

/** "id:k" → [id, k]. */
export function parseMutation(m: string): [string, number] {
  const i = m.lastIndexOf(':');
  return [m.slice(0, i), Number(m.slice(i + 1))];
}

/**
 * Every state one step simpler than (choice, mutations), in the order the shrinker prefers them:
 * a mutation dropped, then a variant index lowered to 0, then one base choice reset to its default
 * (a choice left out counts as its default).
 */
export function oneStepSimpler<Ch extends object, C>(choice: Ch, mutations: readonly string[], defaults: Readonly<Required<Ch>>, build: (choice: Ch, muts: [string, number][]) => C): C[] {
  const muts = mutations.map(parseMutation);
  const out: C[] = [];
  muts.forEach((_, j) => out.push(build(choice, muts.filter((__, i) => i !== j))));
  muts.forEach(([id, k], j) => {
    if (k !== 0) out.push(build(choice, muts.map((m, i) => (i === j ? [id, 0] : m))));
  });
  for (const key of Object.keys(defaults) as (keyof Ch)[]) {
    if ((choice[key] ?? defaults[key]) !== defaults[key]) out.push(build({ ...choice, [key]: defaults[key] }, muts));
  }
  return out;
}

/**
 * The shrink rules of states an arbitrary builds from a mutation table (oracleSvm.ts,
 * oracleVmx.ts): a state can be rebuilt when every mutation is the table's (a state projected from
 * a project corpus file cannot), and its candidates are oneStepSimpler's, rebuilt on `cpu`.
 */
export function tableShrinkRules<Cpu, Ch extends object, C extends OracleCaseLike & { choice: Ch }, V extends OracleVerdictLike>(
  table: { ids: readonly string[]; defaults: Readonly<Required<Ch>>; build: (cpu: Cpu, choice: Ch, muts: [string, number][]) => C },
  judge: Pick<OracleShrinkRules<C, V>, 'signature' | 'bucketKey'>,
): (cpu: Cpu) => OracleShrinkRules<C, V> {
  const known = new Set(table.ids);
  return (cpu) => ({
    ...judge,
    shrinkable: (c) => c.mutations.every((m) => known.has(parseMutation(m)[0])),
    simpler: (c) => oneStepSimpler(c.choice, c.mutations, table.defaults, (choice, muts) => table.build(cpu, choice, muts)),
  });
}

const unexplained = <V>(cmp: OracleComparison<V>): boolean => cmp.diff.length > 0 && !cmp.explainedBy;

/**
 * `stop` (a campaign's deadline or stop signal) is asked before each round: a ride must not
 * overrun --time by a long shrink (a VMX round whose candidates hang Bochs costs seconds each).
 */
export async function shrinkDisagreement<C extends OracleCaseLike, V extends OracleVerdictLike>(
  arch: OracleArch<C, V>, start: C, first: OracleComparison<V>, profile: Profile, jobs: number, stop: () => boolean = () => false,
): Promise<OracleShrinkResult<C, V>> {
  const sig = arch.signature(first);
  let cur = start;
  let cmp = first;
  let boots = 0;
  let cutShort = false;
  const steps: OracleShrinkStep<C['choice']>[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (stop()) {
      cutShort = true;
      break;
    }
    const cand = arch.simpler(cur);
    if (cand.length === 0) break;
    const r = await arch.runBatch(cand, profile, jobs, { verifyAlone: false });
    boots += r.boots;
    const hit = r.results.find((x) => unexplained(x.cmp) && arch.signature(x.cmp) === sig);
    if (!hit) break;
    cur = hit.c;
    cmp = hit.cmp;
    steps.push({ mutations: cur.mutations, choice: cur.choice, candidates: cand.length });
  }
  // A batch of one state is that state alone in a fresh emulator. Stopped before any step, the
  // state is the one its batch judged (and re-ran alone where its kind was new): no boot to spare.
  if (!cutShort || steps.length > 0) {
    const alone = await arch.runBatch([cur], profile, 1, { verifyAlone: false });
    boots += alone.boots;
    const confirmed = alone.results[0].cmp;
    if (unexplained(confirmed)) cmp = confirmed;
  }
  return { c: cur, cmp, steps, boots, cutShort };
}
