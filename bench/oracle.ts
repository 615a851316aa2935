// Oracle figures for `npm run bench` (issue #8): states/s through each emulator adapter with one
// and with N parallel instances (boot included), the whole comparison's states/s (emulator, engine
// and re-runs of suspects), and the agreement rate after listed divergences on a generated batch.

import fc from 'fast-check';
import { oracleSvmCase } from '../src/arbitraries/oracleSvm.ts';
import { oracleVmxCase } from '../src/arbitraries/oracleVmx.ts';
import { encodeVmcb } from '../src/arch/svm/codec.ts';
import { getProfile } from '../src/engine/profile_list.ts';
import { getSvmAdapter } from '../src/oracle/svm/adapters.ts';
import { runSvmOracleBatch } from '../src/oracle/svm/driver.ts';
import { probeCpu } from '../src/oracle/session.ts';
import { getVmxAdapter } from '../src/oracle/vmx/adapters.ts';
import { runVmxOracleBatch } from '../src/oracle/vmx/driver.ts';
import { encodeVmxStatePage } from '../src/oracle/vmx/fieldList.ts';
import { probeVmxCpu } from '../src/oracle/vmx/session.ts';

export interface OracleBenchRow {
  adapter: string;
  states: number;
  /** Emulator only (pages in, records out), boot included. */
  states_per_s_1: number;
  states_per_s_n: number;
  jobs: number;
  /** Whole comparison: emulator batch + engine + re-runs of suspects. */
  compare_states_per_s: number;
  agreement_after_listed: number;
  crashes: number;
}

interface Measured {
  pages: Uint8Array[];
  runBatch: (pages: Uint8Array[], jobs: number) => Promise<{ outcomes: { kind: string }[] }>;
  compare: () => Promise<{ unexplained: number }>;
}

async function row(name: string, states: number, jobs: number, m: Measured): Promise<OracleBenchRow> {
  const rate = async (j: number): Promise<{ perS: number; crashes: number }> => {
    const t0 = performance.now();
    const r = await m.runBatch(m.pages, j);
    return { perS: states / ((performance.now() - t0) / 1000), crashes: r.outcomes.filter((o) => o.kind === 'crash').length };
  };
  const one = await rate(1);
  const n = await rate(jobs);
  const t0 = performance.now();
  const { unexplained } = await m.compare();
  return {
    adapter: name, states, jobs,
    states_per_s_1: Math.round(one.perS), states_per_s_n: Math.round(n.perS),
    compare_states_per_s: Math.round(states / ((performance.now() - t0) / 1000)),
    agreement_after_listed: +(1 - unexplained / states).toFixed(5),
    crashes: one.crashes,
  };
}

export async function oracleBench(sizes: Record<string, number>, jobs: number): Promise<OracleBenchRow[]> {
  const kvmNext = getProfile('kvm-next')!;
  const rows: OracleBenchRow[] = [];
  for (const [name, states] of Object.entries(sizes)) {
    const svm = getSvmAdapter(name);
    if (svm) {
      const cpu = await probeCpu(svm);
      const cases = fc.sample(oracleSvmCase(cpu), { numRuns: states, seed: 8 });
      rows.push(await row(name, states, jobs, {
        pages: cases.map((c) => encodeVmcb(c.scenario.vmcb12)),
        runBatch: (p, j) => svm.runBatch(p, j),
        compare: async () => ({ unexplained: (await runSvmOracleBatch(cases, svm, kvmNext, jobs)).results.filter((r) => r.cmp.diff.length > 0 && !r.cmp.explainedBy).length }),
      }));
      continue;
    }
    const vmx = getVmxAdapter(name);
    if (vmx) {
      const cpu = await probeVmxCpu(vmx);
      const cases = fc.sample(oracleVmxCase(cpu), { numRuns: states, seed: 8 });
      rows.push(await row(name, states, jobs, {
        pages: cases.map((c) => encodeVmxStatePage(c.scenario.vmcs12, vmx.absentFields)),
        runBatch: (p, j) => vmx.runBatch(p, j),
        compare: async () => ({ unexplained: (await runVmxOracleBatch(cases, vmx, kvmNext, jobs)).results.filter((r) => r.cmp.diff.length > 0 && !r.cmp.explainedBy).length }),
      }));
    }
  }
  return rows;
}
