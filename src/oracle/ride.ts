// `fuzz --oracle <adapter>`: the oracle rides along with a campaign as the invariant
// engine-agrees-with-<adapter>. Batches of generated states go to the emulator (one instance: the
// campaign's workers have the cores) until the campaign's deadline or its stop signal; each
// unexplained divergence is shrunk in batches and written to corpus/oracle/<adapter>/ as soon as
// it is found, so an interrupted campaign keeps it.

import fc from 'fast-check';
import { oracleSvmCase } from '../arbitraries/oracleSvm.ts';
import { deriveSeed } from '../campaign/runner.ts';
import type { Profile } from '../engine/profiles.ts';
import { runSvmOracleBatch } from './svm/driver.ts';
import { OracleTally, probeCpu, requireAdapter, type OracleSessionReport } from './session.ts';

export interface OracleRideOptions {
  adapter: string;
  /** The campaign seed: batch k samples with deriveSeed(seed, property, `batch-${k}`). */
  seed: string;
  profile: Profile;
  /** Wall-clock budget (the campaign's --time). */
  timeMs: number;
  signal?: AbortSignal;
  corpusDir: string;
  /** States per emulator boot. */
  batch?: number;
}

export interface OracleRide {
  property: string;
  report: OracleSessionReport;
  seed: number;
  batches: number;
  interrupted: boolean;
}

export function oracleProperty(adapter: string): string {
  return `engine-agrees-with-${adapter}`;
}

export async function rideOracle(o: OracleRideOptions): Promise<OracleRide> {
  const t0 = performance.now();
  const adapter = requireAdapter(o.adapter);
  const property = oracleProperty(adapter.name);
  const seed = deriveSeed(o.seed, property, o.profile.name);
  const cpu = await probeCpu(adapter);
  const tally = new OracleTally(cpu, adapter, { profile: o.profile, jobs: 1, corpusDir: o.corpusDir, shrink: true, seed });
  tally.boots++;
  const size = o.batch ?? 4000;
  let batches = 0;
  // At least one batch, then more while the budget lasts and no stop was asked for.
  do {
    const cases = fc.sample(oracleSvmCase(cpu), { numRuns: size, seed: (seed + batches) | 0 });
    await tally.add(await runSvmOracleBatch(cases, adapter, o.profile, 1), [], batches * size);
    batches++;
  } while (performance.now() - t0 < o.timeMs && !o.signal?.aborted);
  return { property, report: tally.report([], performance.now() - t0), seed, batches, interrupted: o.signal?.aborted ?? false };
}
