// Oracle figures for `npm run bench` (issue #8): states/s through each emulator adapter with one
// and with N parallel instances (boot included), the engine's share, and the agreement rate after
// listed divergences on a generated batch.

import fc from 'fast-check';
import { oracleSvmCase } from '../src/arbitraries/oracleSvm.ts';
import { encodeVmcb } from '../src/arch/svm/codec.ts';
import { getProfile } from '../src/engine/profile_list.ts';
import { getSvmAdapter } from '../src/oracle/svm/adapters.ts';
import { runSvmOracleBatch } from '../src/oracle/svm/driver.ts';
import { probeCpu } from '../src/oracle/session.ts';

export interface OracleBenchRow {
  adapter: string;
  states: number;
  /** Emulator only (pages in, records out), boot included. */
  states_per_s_1: number;
  states_per_s_n: number;
  jobs: number;
  /** Whole comparison: emulator batch + engine + re-runs of disagreements alone. */
  compare_states_per_s: number;
  agreement_after_listed: number;
  crashes: number;
}

export async function oracleBench(adapters: string[], states: number, jobs: number): Promise<OracleBenchRow[]> {
  const rows: OracleBenchRow[] = [];
  for (const name of adapters) {
    const adapter = getSvmAdapter(name);
    if (!adapter) continue;
    const cpu = await probeCpu(adapter);
    const cases = fc.sample(oracleSvmCase(cpu), { numRuns: states, seed: 8 });
    const pages = cases.map((c) => encodeVmcb(c.scenario.vmcb12));
    const rate = async (j: number): Promise<{ perS: number; crashes: number }> => {
      const t0 = performance.now();
      const r = await adapter.runBatch(pages, j);
      return { perS: states / ((performance.now() - t0) / 1000), crashes: r.outcomes.filter((o) => o.kind === 'crash').length };
    };
    const one = await rate(1);
    const n = await rate(jobs);
    const t0 = performance.now();
    const cmp = await runSvmOracleBatch(cases, adapter, getProfile('kvm-next')!, jobs);
    const compareS = (performance.now() - t0) / 1000;
    const unexplained = cmp.results.filter((r) => r.cmp.diff.length > 0 && !r.cmp.explainedBy).length;
    rows.push({
      adapter: name, states, jobs,
      states_per_s_1: Math.round(one.perS), states_per_s_n: Math.round(n.perS),
      compare_states_per_s: Math.round(states / compareS),
      agreement_after_listed: +(1 - unexplained / states).toFixed(5),
      crashes: one.crashes,
    });
  }
  return rows;
}
