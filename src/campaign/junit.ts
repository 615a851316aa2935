// JUnit XML for CI dashboards (Jenkins, GitLab, GitHub test reporters), in the shape of the Ant /
// Jenkins junit-10 schema:
//
//   <testsuites name="nestfuzz" tests failures errors time>
//     <testsuite name=<property> tests failures errors skipped time>   one per property
//       <properties>  seed, profiles, interrupted (compare when set)
//       <testcase name=<profile | "a vs b"> classname="nestfuzz.<area>.<property>" time>
//         <skipped message/> | <failure message="<code>: <message>" type=<code>>corpus, shrink log,
//         replay command</failure>
//         <system-out>runs, fast-check seed, why the pair stopped</system-out>
//
// A property skipped by the plan is one testcase with <skipped>. Pairs a campaign never reached
// (interrupted, or run by another shard) are left out: summary.json lists what was selected.
// Times are seconds. Nothing here runs anything.

import { getProperty } from '../../properties/index.ts';
import type { CampaignFailure, CampaignResult, PairSummary } from './runner.ts';
import { replayCoordinates } from './shrinkLog.ts';

/**
 * Characters XML 1.0 cannot carry at all, not even as character references: C0 controls other
 * than tab, LF and CR; U+FFFE, U+FFFF; and unpaired surrogates.
 */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const ENTITY: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/**
 * `text` as XML character data (`attribute` false) or as the inside of a quoted attribute value
 * (`attribute` true): the five markup characters become entities; a character XML cannot hold is
 * written as the visible text `\uXXXX`; CR is always a character reference (a parser would turn a
 * raw one into LF), and so are tab and LF inside attributes (a parser would turn them into spaces).
 */
export function xmlEscape(text: string, attribute = false): string {
  const visible = text.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const special = attribute ? /[&<>"'\t\n\r]/g : /[&<>"'\r]/g;
  return visible.replace(special, (c) => ENTITY[c]);
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a).map(([k, v]) => ` ${k}="${xmlEscape(String(v), true)}"`).join('');
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** A POSIX shell word for `s` (single-quoted unless it is plainly safe). */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface JunitOptions {
  /** A property's area (svm, vmx, mmu); default: the registry in properties/index.ts. */
  areaOf?: (property: string) => string | undefined;
}

interface Case {
  name: string;
  timeMs: number;
  failures: CampaignFailure[];
  skipped: string | null;
  out: string | null;
}

function pairName(profile: string, other: string | null): string {
  return other === null ? profile : `${profile} vs ${other}`;
}

function failureText(f: CampaignFailure): string {
  const lines = [`${f.property} on ${pairName(f.profile, f.otherProfile)}: ${f.verdict.code}: ${f.verdict.message}`];
  if (f.corpusFile) lines.push(`corpus:     ${f.corpusFile}`);
  if (f.shrinkLogFile) lines.push(`shrink log: ${f.shrinkLogFile}`);
  if (f.corpusFile) lines.push(`replay:     npm run replay -- ${shellWord(f.corpusFile)}`);
  lines.push(`fast-check: ${replayCoordinates(f.seed, f.path)}`);
  return lines.join('\n');
}

function pairOut(p: PairSummary): string {
  return `${p.runs} run(s), fast-check seed ${p.seed}, stopped by ${p.stoppedBy}`;
}

/** The testcases of one property: its pairs, failures without a pair, or its skip. */
function casesOf(result: CampaignResult, property: string): Case[] {
  const failures = result.failures.filter((f) => f.property === property);
  const used = new Set<CampaignFailure>();
  const cases: Case[] = [];
  for (const p of result.pairs) {
    if (p.property !== property) continue;
    const mine = failures.filter((f) => f.profile === p.profile && f.otherProfile === p.otherProfile);
    for (const f of mine) used.add(f);
    cases.push({ name: pairName(p.profile, p.otherProfile), timeMs: p.elapsedMs, failures: mine, skipped: null, out: pairOut(p) });
  }
  for (const f of failures) {
    if (!used.has(f)) cases.push({ name: pairName(f.profile, f.otherProfile), timeMs: 0, failures: [f], skipped: null, out: null });
  }
  const skip = result.skipped.find((s) => s.property === property);
  if (skip && cases.length === 0) {
    const name = result.compare ? pairName(result.compare[0], result.compare[1]) : result.profiles.join(', ');
    cases.push({ name, timeMs: 0, failures: [], skipped: skip.reason, out: null });
  }
  return cases;
}

/** JUnit XML text (UTF-8, with the XML declaration) of a campaign. */
export function junitXml(result: CampaignResult, opts: JunitOptions = {}): string {
  const areaOf = opts.areaOf ?? ((id: string) => getProperty(id)?.area);
  const ids = [...result.properties];
  for (const id of [...result.pairs.map((p) => p.property), ...result.failures.map((f) => f.property), ...result.skipped.map((s) => s.property)]) {
    if (!ids.includes(id)) ids.push(id);
  }
  const props: Array<[string, string]> = [['seed', result.seed], ['profiles', result.profiles.join(',')]];
  if (result.compare) props.push(['compare', result.compare.join(',')]);
  props.push(['interrupted', String(result.interrupted)]);

  const suites: string[] = [];
  let tests = 0;
  let failed = 0;
  for (const id of ids) {
    const cases = casesOf(result, id);
    if (cases.length === 0) continue;
    const area = areaOf(id);
    const classname = area ? `nestfuzz.${area}.${id}` : `nestfuzz.${id}`;
    const nFailed = cases.filter((c) => c.failures.length > 0).length;
    const nSkipped = cases.filter((c) => c.skipped !== null).length;
    const timeMs = cases.reduce((t, c) => t + c.timeMs, 0);
    tests += cases.length;
    failed += nFailed;
    const lines = [`  <testsuite${attrs({ name: id, tests: cases.length, failures: nFailed, errors: 0, skipped: nSkipped, time: seconds(timeMs) })}>`];
    lines.push('    <properties>');
    for (const [name, value] of props) lines.push(`      <property${attrs({ name, value })}/>`);
    lines.push('    </properties>');
    for (const c of cases) {
      const open = `    <testcase${attrs({ name: c.name, classname, time: seconds(c.timeMs) })}`;
      const body: string[] = [];
      if (c.skipped !== null) body.push(`      <skipped${attrs({ message: c.skipped })}/>`);
      for (const f of c.failures) {
        body.push(`      <failure${attrs({ message: `${f.verdict.code}: ${f.verdict.message}`, type: f.verdict.code })}>${xmlEscape(failureText(f))}</failure>`);
      }
      if (c.out !== null) body.push(`      <system-out>${xmlEscape(c.out)}</system-out>`);
      lines.push(...(body.length === 0 ? [`${open}/>`] : [`${open}>`, ...body, '    </testcase>']));
    }
    lines.push('  </testsuite>');
    suites.push(...lines);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'nestfuzz', tests, failures: failed, errors: 0, time: seconds(result.elapsedMs) })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
