// The VMX oracle over a batch: run the states on the emulator in one boot per instance (poisoners
// last), compare each with the engine, and re-run every unexplained disagreement alone in a fresh
// emulator, so a verdict never rests on state leaked from an earlier VM entry (oracle.md §7).

import type { OracleVmxCase } from '../../arbitraries/oracleVmx.ts';
import type { Profile } from '../../engine/profiles.ts';
import type { VmxRawOutcome } from '../raw.ts';
import type { VmxAdapter } from './adapters.ts';
import type { OracleBatchResult, OracleStateResult } from '../tally.ts';
import { compareVmxState } from './compare.ts';
import { encodeVmxStateInto } from './fieldList.ts';
import { projectedMemory } from './project.ts';
import { encodedStates } from '../statePages.ts';
import { runOracleBatch } from '../batch.ts';
import type { VmxVerdict } from './verdict.ts';

export type VmxStateResult = OracleStateResult<OracleVmxCase, VmxVerdict>;
export type VmxBatchResult = OracleBatchResult<OracleVmxCase, VmxVerdict>;

/** At most this many disagreements per batch are re-run alone (each costs a ~1.6 s boot). */
export const MAX_VMX_ALONE_RERUNS = 16;

/** The harness's input page of a VMX state: its vmcs12 as the field list the adapter's model takes. */
const encodeCase = (adapter: VmxAdapter) => (dst: Uint8Array, c: OracleVmxCase): void => encodeVmxStateInto(dst, c.scenario.vmcs12, adapter.absentFields);

const unexplained = (r: VmxStateResult): boolean => r.cmp.diff.length > 0 && !r.cmp.explainedBy;

/** One boot for the first unexplained state of each kind (same verdict kinds and differing fields). */
async function verifyAlone(results: VmxStateResult[], adapter: VmxAdapter, profile: Profile, jobs: number): Promise<number> {
  const kinds = new Map<string, VmxStateResult>();
  for (const r of results.filter(unexplained)) {
    const k = `${r.cmp.engine.kind}|${r.cmp.emu.kind}|${r.cmp.diff.join()}`;
    if (!kinds.has(k)) kinds.set(k, r);
  }
  const firsts = [...kinds.values()].slice(0, MAX_VMX_ALONE_RERUNS);
  let boots = 0;
  for (let k = 0; k < firsts.length; k += jobs) {
    const wave = firsts.slice(k, k + jobs);
    const runs = await Promise.all(wave.map((r) => adapter.runBatch([encodedStates([r.c], encodeCase(adapter))], 1)));
    wave.forEach((r, w) => {
      boots += runs[w].boots;
      const cmp = compareVmxState(r.c, runs[w].outcomes[0], profile, adapter.name);
      r.leaked = cmp.diff.join() !== r.cmp.diff.join() || cmp.explainedBy !== r.cmp.explainedBy;
      r.cmp = cmp;
      r.rerunAlone = true;
    });
  }
  return boots;
}

export interface VmxBatchOptions {
  verifyAlone?: boolean;
}

function runPlain(cases: OracleVmxCase[], adapter: VmxAdapter, profile: Profile, jobs: number, opts: VmxBatchOptions): Promise<VmxBatchResult> {
  return runOracleBatch<OracleVmxCase, VmxRawOutcome, VmxVerdict, VmxAdapter>({
    cases, adapter, jobs,
    encodeInto: encodeCase(adapter),
    compare: (c, raw) => compareVmxState(c, raw, profile, adapter.name),
    verify: opts.verifyAlone === false ? null : (results, emulator) => verifyAlone(results, emulator, profile, jobs),
  });
}

/**
 * The batch's states on the emulator and through the engine. A state that reads L1 memory of its
 * own (a projected counterexample's MSR lists, project.ts) runs in a batch of its own with that
 * memory loaded: two such states may want different words at the same slot.
 */
export async function runVmxOracleBatch(cases: OracleVmxCase[], adapter: VmxAdapter, profile: Profile, jobs: number, opts: VmxBatchOptions = {}): Promise<VmxBatchResult> {
  const memory = cases.map(projectedMemory);
  const plain = cases.map((_, i) => i).filter((i) => memory[i].length === 0);
  if (plain.length === cases.length) return runPlain(cases, adapter, profile, jobs, opts);
  const out: VmxBatchResult = { results: new Array(cases.length), boots: 0, emulatorMs: 0 };
  const add = (r: VmxBatchResult, indices: number[]): void => {
    r.results.forEach((x, k) => (out.results[indices[k]] = { ...x, index: indices[k] }));
    out.boots += r.boots;
    out.emulatorMs += r.emulatorMs;
  };
  if (plain.length > 0) add(await runPlain(plain.map((i) => cases[i]), adapter, profile, jobs, opts), plain);
  for (let i = 0; i < cases.length; i++) {
    if (memory[i].length === 0) continue;
    const own: VmxAdapter = { ...adapter, runBatch: (lanes, j) => adapter.runBatch(lanes, j, memory[i]) };
    add(await runPlain([cases[i]], own, profile, 1, opts), [i]);
  }
  return out;
}
