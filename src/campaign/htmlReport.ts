// The campaign as one static HTML file a reviewer can open in the morning: the property × profile
// table, a heat map of the consistency checks, runs/s and detection time across nights (from the
// summary.json of earlier nights, when given), and every counterexample decoded with its shrink log.
// No script and no external resource: the page is the same wherever it is opened.

import { existsSync, readFileSync } from 'node:fs';
import { formatReplay } from './format.ts';
import type { SummaryLike } from './merge.ts';
import { replayCorpusFile } from './replay.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface PairRow { property: string; profile: string; otherProfile: string | null; runs: number; failed: boolean; stoppedBy?: string; elapsedMs?: number }
interface FailureRow { property: string; profile: string; otherProfile: string | null; verdict?: { code: string; message: string }; corpusFile: string; shrinkLogFile?: string; bucket?: string }

/** A small inline SVG line chart (one series). */
function chart(title: string, unit: string, points: Array<{ label: string; value: number }>): string {
  const w = 560;
  const h = 160;
  const pad = 36;
  if (points.length === 0) return `<p>${esc(title)}: no data.</p>`;
  const max = Math.max(...points.map((p) => p.value), 1);
  const x = (i: number): number => pad + (points.length === 1 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (points.length - 1));
  const y = (v: number): number => h - pad - (v / max) * (h - 2 * pad);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const dots = points.map((p, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3"><title>${esc(p.label)}: ${p.value.toFixed(1)} ${esc(unit)}</title></circle>`).join('');
  const labels = points.map((p, i) => `<text x="${x(i).toFixed(1)}" y="${h - 8}" font-size="10" text-anchor="middle">${esc(p.label)}</text>`).join('');
  return `<figure><figcaption>${esc(title)} (max ${max.toFixed(1)} ${esc(unit)})</figcaption><svg width="${w}" height="${h}" role="img" aria-label="${esc(title)}">`
    + `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/><path d="${path}" fill="none" stroke="#2a6" stroke-width="2"/>${dots}${labels}</svg></figure>`;
}

const anchor = (f: FailureRow): string => `cx-${(f.corpusFile.split('/').pop() ?? '').replace(/\.json$/, '')}-${f.property}`.replace(/[^a-zA-Z0-9_-]/g, '_');

export interface HtmlReportOptions {
  /** Earlier nights' summaries, oldest first (this campaign is appended as the last point). */
  history?: SummaryLike[];
  title?: string;
}

export function htmlReport(s: SummaryLike, opts: HtmlReportOptions = {}): string {
  const pairs = s.pairs as PairRow[];
  const failures = s.failures as FailureRow[];
  const profiles = [...new Set(pairs.map((p) => (p.otherProfile ? `${p.profile} vs ${p.otherProfile}` : p.profile)))];
  const properties = [...new Set(pairs.map((p) => p.property))];
  const cell = (prop: string, prof: string): string => {
    const p = pairs.find((x) => x.property === prop && (x.otherProfile ? `${x.profile} vs ${x.otherProfile}` : x.profile) === prof);
    if (!p) return '<td class="none">–</td>';
    const f = failures.find((x) => x.property === prop && x.profile === p.profile && x.otherProfile === p.otherProfile);
    return p.failed && f ? `<td class="fail"><a href="#${anchor(f)}">FAIL</a> ${p.runs}</td>` : `<td class="ok">${p.runs}</td>`;
  };
  const table = `<table><thead><tr><th>property</th>${profiles.map((p) => `<th>${esc(p)}</th>`).join('')}</tr></thead><tbody>`
    + properties.map((prop) => `<tr><th>${esc(prop)}</th>${profiles.map((pr) => cell(prop, pr)).join('')}</tr>`).join('') + '</tbody></table>';

  const checks = Object.entries((s.checks ?? {}) as Record<string, { passed: number; failed: number }>);
  const maxFailed = Math.max(1, ...checks.map(([, c]) => c.failed));
  const heat = checks.map(([id, c]) => {
    const level = c.failed === 0 ? 0 : 0.15 + 0.85 * (Math.log1p(c.failed) / Math.log1p(maxFailed));
    return `<span class="chk" style="background: rgba(34,136,85,${level.toFixed(2)})" title="${esc(id)}: fired ${c.failed}, held ${c.passed}">${esc(id)}</span>`;
  }).join('');

  const nights = [...(opts.history ?? []), s];
  const runsPerS = nights.map((n, i) => ({ label: String(i + 1), value: n.elapsedMs > 0 ? (n.runs * 1000) / n.elapsedMs : 0 }));
  const detection = nights.map((n, i) => {
    const ms = (n.pairs as PairRow[]).filter((p) => p.failed && p.elapsedMs !== undefined).map((p) => p.elapsedMs as number);
    return { label: String(i + 1), value: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : 0 };
  });

  const cxs = failures.map((f) => {
    let decoded: string;
    try {
      decoded = existsSync(f.corpusFile) ? formatReplay(replayCorpusFile(f.corpusFile)) : `(corpus file ${f.corpusFile} not found)`;
    } catch (e) {
      decoded = `(cannot replay: ${e instanceof Error ? e.message : String(e)})`;
    }
    const log = f.shrinkLogFile && existsSync(f.shrinkLogFile) ? readFileSync(f.shrinkLogFile, 'utf8') : '(no shrink log: the failure fell in a bucket the corpus already had)';
    return `<section id="${anchor(f)}"><h3>${esc(f.property)} on ${esc(f.profile)}${f.otherProfile ? ` vs ${esc(f.otherProfile)}` : ''}</h3>`
      + `<p>${esc(f.verdict ? `${f.verdict.code}: ${f.verdict.message}` : '')}</p><p>bucket <code>${esc(f.bucket ?? '')}</code>, corpus <code>${esc(f.corpusFile)}</code></p>`
      + `<details open><summary>replay</summary><pre>${esc(decoded)}</pre></details><details><summary>shrink log</summary><pre>${esc(log)}</pre></details></section>`;
  }).join('');

  const title = opts.title ?? `nestfuzz campaign, seed ${s.seed}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f4f4f4; text-align: left; } td.fail { background: #f6c6c6; } td.ok { background: #e6f4ea; } td.none { color: #aaa; }
.chk { display: inline-block; margin: 1px; padding: 1px 4px; font-size: 11px; border: 1px solid #ddd; }
pre { background: #f8f8f8; padding: 6px; overflow-x: auto; font-size: 12px; }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${s.runs} run(s) in ${(s.elapsedMs / 1000).toFixed(1)} s; ${pairs.length} property × profile pair(s); ${failures.length} failure(s)${s.interrupted ? '; interrupted' : ''}${s.shard ? `; shard ${esc(String(s.shard))}` : ''}.</p>
<nav><a href="#pairs">pairs</a> · <a href="#coverage">coverage</a> · <a href="#trends">trends</a> · <a href="#counterexamples">counterexamples</a></nav>
<h2 id="pairs">Properties × profiles (runs; FAIL links to the counterexample)</h2>
${table}
<h2 id="coverage">Consistency checks (darker: fired more often in sampled cases)</h2>
<div>${heat || '<p>no checks sampled</p>'}</div>
<h2 id="trends">Across nights</h2>
${chart('runs/s', 'runs/s', runsPerS)}
${chart('mean time to detection of failing pairs', 'ms', detection)}
<h2 id="counterexamples">Counterexamples (${failures.length})</h2>
<ul>${failures.map((f) => `<li><a href="#${anchor(f)}">${esc(f.property)} on ${esc(f.profile)}</a></li>`).join('')}</ul>
${cxs}
</body></html>
`;
}
