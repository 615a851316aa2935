// Words for the data the campaign returns: the fuzz summary (with replay coordinates to paste back,
// after fast-check's RunDetailsFormatter), the replay view, the list tables and trace lines.
// Nothing here runs anything.

import type { TraceEvent } from '../engine/trace.ts';
import { formatPath, renderFieldDiff } from './fieldDiff.ts';
import type { Listing } from './list.ts';
import type { ReplayResult } from './replay.ts';
import type { CampaignResult } from './runner.ts';
import { replayCoordinates } from './shrinkLog.ts';

function traceValue(v: unknown): string {
  if (typeof v === 'bigint') return `0x${BigInt.asUintN(64, v).toString(16)}`;
  if (typeof v === 'string') return /^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(traceValue).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${k}:${traceValue(x)}`).join(',')}}`;
  }
  return String(v);
}

/** `ev key=value ...`, bigints in hex. */
export function formatTraceEvent(e: TraceEvent): string {
  const parts = [e.ev];
  for (const [k, v] of Object.entries(e)) if (k !== 'ev' && v !== undefined) parts.push(`${k}=${traceValue(v)}`);
  return parts.join(' ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatCampaignSummary(r: CampaignResult): string {
  const out: string[] = [];
  const rate = r.elapsedMs > 0 ? Math.round((r.runs * 1000) / r.elapsedMs) : 0;
  const known = Object.keys(r.checks).length;
  out.push(`nestfuzz fuzz: seed ${JSON.stringify(r.seed)}, ${r.runs} run(s) in ${seconds(r.elapsedMs)} (${rate} runs/s)`);
  out.push(`properties: ${r.properties.length} (${r.properties.join(', ')})`);
  out.push(`profiles:   ${r.compare ? `${r.compare[0]} vs ${r.compare[1]} (--compare)` : r.profiles.join(', ')}`);
  if (r.shard) out.push(`shard:      ${r.shard} (${r.pairs.length} of ${r.plannedPairs} property × profile pairs)`);
  out.push(`checks hit: ${r.checksHit.length}/${known} (rule fired in a sampled case; ${r.coverageSamples} case(s) sampled)`);
  if (r.neverHit.length > 0) out.push(`never hit:  ${r.neverHit.join(', ')}`);
  const outcomes = Object.entries(r.outcomes ?? {});
  if (outcomes.length > 0) out.push(`outcomes:   ${outcomes.length} seen (${outcomes.sort(([, a], [, b]) => b - a).slice(0, 6).map(([k, n]) => `${k} ${n}`).join(', ')}${outcomes.length > 6 ? ', …' : ''}); all in summary.json`);
  const kinds = Object.keys(r.mutationKinds ?? {}).length;
  if (kinds + (r.mutationKindsNeverHit ?? []).length > 0) {
    out.push(`mutations:  ${kinds} kind(s) applied, ${(r.mutationKindsNeverHit ?? []).length} never${(r.mutationKindsNeverHit ?? []).length ? `: ${r.mutationKindsNeverHit.slice(0, 12).join(', ')}${r.mutationKindsNeverHit.length > 12 ? ', …' : ''}` : ''}`);
  }
  for (const s of r.skipped) out.push(`skipped:    ${s.property} (${s.reason})`);
  for (const f of r.failures) {
    out.push('');
    out.push(`FAIL ${f.property} on ${f.profile}${f.otherProfile ? ` vs ${f.otherProfile}` : ''}: ${f.verdict.code}: ${f.verdict.message}`);
    out.push(`  bucket:     ${f.bucket}${f.newBucket ? ' (new)' : ' (known)'}`);
    out.push(`  corpus:     ${f.corpusFile}${f.newInCorpus ? '' : f.shrinkLogFile ? ' (already in corpus)' : ' (the bucket\'s representative; this failure was counted)'}`);
    if (f.shrinkLogFile) out.push(`  shrink log: ${f.shrinkLogFile}`);
    out.push(`  replay:     ${replayCoordinates(f.seed, f.path)}`);
    out.push(`  Shrunk ${f.shrinkCount} time(s) (fast-check ${f.fastCheckShrinks}, revert-to-base ${f.revertedToBase}); 1-minimal: ${f.oneMinimal ? 'yes' : 'no'}`);
  }
  out.push('');
  if (r.failed) out.push(`result: ${r.failures.length} invariant failure(s)${r.interrupted ? ' (interrupted)' : ''}`);
  else if (r.interrupted) out.push('result: interrupted, no invariant failed in the runs done');
  else out.push('result: every invariant held');
  return `${out.join('\n')}\n`;
}

/** The replay data for --json: diff paths as strings, no stack traces. */
export function replayJson(r: ReplayResult): unknown {
  const verdict = r.verdict.ok ? r.verdict : { ...r.verdict, details: r.verdict.details && Object.fromEntries(Object.entries(r.verdict.details).filter(([k]) => k !== 'stack')) };
  return {
    ...r,
    verdict,
    diff: r.diff.map((d) => ({ path: formatPath(d.path), kind: d.kind, old: d.old, new: d.new, ...(d.note === undefined ? {} : { note: d.note }) })),
  };
}

export function formatReplay(r: ReplayResult): string {
  const out: string[] = [];
  out.push(`property:  ${r.property} (${r.title})`);
  out.push(`profile:   ${r.profile}${r.otherProfile ? ` vs ${r.otherProfile}` : ''}`);
  out.push(`arch:      ${r.arch === 'mmu' ? 'nested paging / fault synthesis (MMU)' : `nested ${r.arch.toUpperCase()}`}`);
  out.push(`found:     ${r.foundAt} by nestfuzz ${r.toolVersion}, replay ${replayCoordinates(r.seed, r.path)}`);
  out.push(`mutations: ${r.mutations.length === 0 ? '(none)' : r.mutations.join(', ')}`);
  out.push(`stored:    ${r.stored.code}: ${r.stored.message}`);
  if (r.verdict.ok) {
    out.push('verdict:   the invariant holds');
    out.push('status:    NO LONGER REPRODUCES (the corpus entry expects a failure)');
  } else {
    out.push(`verdict:   ${r.verdict.code}: ${r.verdict.message}`);
    for (const [k, v] of Object.entries(r.verdict.details ?? {})) if (k !== 'stack') out.push(`  ${k}=${traceValue(v)}`);
    out.push('status:    reproduces (the invariant still fails, as expected)');
  }
  out.push('');
  if (r.l1Summary.length > 0) {
    out.push(`== ${r.setupTitle}`);
    out.push(...r.l1Summary);
    out.push('');
  }
  out.push(`== ${r.dumpTitle}`);
  out.push(r.dump);
  out.push('');
  out.push('== field diff against the valid base');
  out.push(...(r.diff.length === 0 ? ['(no differences)'] : renderFieldDiff(r.diff)));
  for (const t of r.traces) {
    out.push('');
    out.push(`== trace on ${t.profile} (outcome ${t.outcome})`);
    for (const e of t.events) out.push(formatTraceEvent(e));
  }
  return `${out.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function formatListing(l: Listing): string {
  const out: string[] = [];
  out.push(`Properties (${l.properties.length})`);
  if (l.properties.length === 0) out.push('(none registered)');
  else out.push(...table(['id', 'area', 'compares', 'title'], l.properties.map((p) => [p.id, p.area, p.compares ? 'yes' : '', p.title])));
  const areas = new Map<string, number>();
  for (const p of l.properties) areas.set(p.area, (areas.get(p.area) ?? 0) + 1);
  if (areas.size > 0) out.push(`by area: ${[...areas].map(([a, n]) => `${a} ${n}`).join(', ')}`);
  out.push('');
  out.push(`Profiles (${l.profiles.length})`);
  out.push(...table(['name', 'arch', 'kind', 'bug', 'caught by', 'title'], l.profiles.map((p) => [p.name, p.arch, p.kind, p.bug ? 'yes' : '', p.caughtBy.join(','), p.title])));
  out.push('');
  out.push(`Checks (${l.checks.length})`);
  out.push(...l.checks.map((c) => c.id));
  return `${out.join('\n')}\n`;
}
