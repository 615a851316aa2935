// `fuzz --oracle <adapter>`: the oracle rides along with a campaign as the invariant
// engine-agrees-with-<adapter>, for an SVM adapter (qemu-svm, bochs-svm) or a VMX one (bochs-vmx).
// Batches of generated states go to the emulator (one instance: the campaign's workers have the
// cores) until the campaign's deadline or its stop signal; each unexplained divergence is shrunk
// in batches and written to corpus/oracle/<adapter>/ as soon as it is found, so an interrupted
// campaign keeps it.

import fc from 'fast-check';
import { deriveSeed } from '../campaign/runner.ts';
import type { Profile } from '../engine/profiles.ts';
import { oracleProperty } from './oracleCorpus.ts';
import { probeCpu, requireAdapter, svmOracleArch, type AnyOracleSessionReport } from './session.ts';
import { OracleTally, type OracleArch, type OracleCaseLike, type OracleVerdictLike } from './tally.ts';
import { describeVmxCaps } from './vmx/cpu.ts';
import { probeVmxCpu, vmxOracleArch } from './vmx/session.ts';

export { oracleProperty } from './oracleCorpus.ts';

export interface OracleRideOptions {
  adapter: string;
  /** The campaign seed: batch k samples with deriveSeed(seed, property, profile) + k. */
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
  report: AnyOracleSessionReport;
  seed: number;
  batches: number;
  interrupted: boolean;
}

/**
 * States in the first batch (later ones are sized to the time left). Measured (`npm run bench`,
 * emulator time with predicted crashers held back): qemu-svm ~30,000 states/s per instance and
 * bochs-svm ~3,000, so 20,000 SVM states take one boot and a second or a few; bochs-vmx ~150 (a
 * boot after each state that hangs or kills Bochs that no prediction covers), so 200 keep a short
 * --time from being overrun by the first batch.
 */
const FIRST_BATCH = { svm: 20_000, vmx: 200 } as const;

async function ride<C extends OracleCaseLike, V extends OracleVerdictLike>(arch: OracleArch<C, V>, o: OracleRideOptions, t0: number) {
  const property = oracleProperty(arch.adapter.name);
  const seed = deriveSeed(o.seed, property, o.profile.name);
  const over = (): boolean => performance.now() - t0 >= o.timeMs || (o.signal?.aborted ?? false);
  // Past the deadline a counterexample is still written, shrunk as far as it got.
  const tally = new OracleTally(arch, { profile: o.profile, jobs: 1, corpusDir: o.corpusDir, shrink: true, seed, stopShrinking: over });
  tally.boots++; // the CPU probe
  const first = o.batch ?? FIRST_BATCH[arch.arch];
  let size = first;
  let done = 0;
  let batches = 0;
  // At least one batch, then more while the budget lasts and no stop was asked for; each later
  // batch no larger than the time left holds at the rate measured so far, so the ride ends near
  // the campaign's deadline.
  do {
    const tb = performance.now();
    const cases = fc.sample(arch.arbitrary, { numRuns: size, seed: (seed + batches) | 0 });
    await tally.add(await arch.runBatch(cases, o.profile, 1), [], done);
    done += size;
    batches++;
    const msPerState = (performance.now() - tb) / size;
    size = Math.max(1, Math.min(first, Math.floor((o.timeMs - (performance.now() - t0)) / msPerState)));
  } while (!over());
  return { property, report: tally.report([], performance.now() - t0), seed, batches, interrupted: o.signal?.aborted ?? false };
}

export async function rideOracle(o: OracleRideOptions): Promise<OracleRide> {
  const t0 = performance.now();
  const a = requireAdapter(o.adapter);
  if (a.arch === 'vmx') {
    const cpu = await probeVmxCpu(a.adapter);
    const r = await ride(vmxOracleArch(cpu, a.adapter), o, t0);
    return { ...r, report: { ...r.report, arch: 'vmx', vmx_caps: describeVmxCaps(cpu) } };
  }
  const r = await ride(svmOracleArch(await probeCpu(a.adapter), a.adapter), o, t0);
  return { ...r, report: { ...r.report, arch: 'svm' } };
}
