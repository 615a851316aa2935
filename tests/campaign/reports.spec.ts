// Campaign reports (issue #7): junit.xml, summary.json, and what a fuzz run stopped by SIGTERM or
// SIGINT leaves behind.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summaryJson, writeCampaignFiles } from '../../src/campaign/campaignFiles.ts';
import { listCorpus, loadCorpusFile } from '../../src/campaign/corpus.ts';
import { junitXml, xmlEscape } from '../../src/campaign/junit.ts';
import { runCampaign, type CampaignFailure, type CampaignResult } from '../../src/campaign/runner.ts';
import { fromJson } from '../../src/campaign/serialize.ts';
import { getProfile } from '../../src/engine/profile_list.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { cli, FAKE_REGISTRY, fakeLookup, REPO_ROOT, tempDir } from './helpers.ts';

const kvmNext = getProfile('kvm-next') as Profile;
const unified = getProfile('unified') as Profile;

// ---------------------------------------------------------------------------------------------
// a generic XML tree from fast-xml-parser's ordered output

interface El {
  tag: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
});

function toEl(node: Record<string, unknown>): El | null {
  const tag = Object.keys(node).find((k) => k !== ':@');
  if (tag === undefined || tag === '#text' || tag.startsWith('?')) return null;
  const kids = node[tag] as Array<Record<string, unknown>>;
  const el: El = { tag, attrs: { ...(node[':@'] as Record<string, string> | undefined) }, children: [], text: '' };
  for (const k of kids) {
    if ('#text' in k) el.text += String(k['#text']);
    else {
      const c = toEl(k);
      if (c) el.children.push(c);
    }
  }
  return el;
}

// XMLValidator is lenient about character data (it accepts a raw "<" inside an attribute value),
// so the text is also read token by token: declaration, start/empty tags whose attribute values
// hold only characters or references (no raw <, &, tab, LF or CR), end tags, and text with every
// "&", "<" and ">" escaped.
const REF = '&(?:amp|lt|gt|quot|apos|#\\d+|#x[0-9a-fA-F]+);';
const NAME = '[A-Za-z_][\\w.-]*';
const TOKEN = new RegExp(
  `^(?:<\\?xml[^?<>]*\\?>|<${NAME}(?:\\s+${NAME}="(?:[^"<&\\t\\n\\r]|${REF})*")*\\s*/?>|</${NAME}\\s*>|(?:[^<&>]|${REF})+)`,
);

function expectStrictTokens(xml: string): void {
  for (let at = 0; at < xml.length;) {
    const m = TOKEN.exec(xml.slice(at));
    expect(m, `not well-formed at ${at}: ${JSON.stringify(xml.slice(at, at + 60))}`).not.toBeNull();
    at += (m as RegExpExecArray)[0].length;
  }
}

/** The root element of `xml`, after checking it is well-formed. */
function parseXml(xml: string): El {
  expect(XMLValidator.validate(xml)).toBe(true);
  expectStrictTokens(xml);
  const roots = (parser.parse(xml) as Array<Record<string, unknown>>).map(toEl).filter((e): e is El => e !== null);
  expect(roots).toHaveLength(1);
  return roots[0];
}

// ---------------------------------------------------------------------------------------------
// what the Ant / Jenkins junit-10 schema asks of a report, checked on the parsed tree

const COUNT = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

function expectOnly(el: El, allowed: string[], required: string[]): void {
  for (const a of Object.keys(el.attrs)) expect(allowed, `<${el.tag}> attribute ${a}`).toContain(a);
  for (const a of required) expect(el.attrs[a], `<${el.tag}> needs ${a}`).toBeTypeOf('string');
}

/** Element order as a string of initials, for checking a content model with a regex. */
function order(el: El, letters: Record<string, string>): string {
  return el.children.map((c) => {
    expect(Object.keys(letters), `<${c.tag}> inside <${el.tag}>`).toContain(c.tag);
    return letters[c.tag];
  }).join('');
}

interface JunitCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  suites: El[];
}

function checkJunit(xml: string): JunitCounts {
  // Characters XML 1.0 cannot carry at all must not be in the text, raw or as references.
  expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]|&#(x0*[0-8bce]|x0*1[0-9a-f]|0*([0-8]|1[124-9]|2\d|3[01]));/i);
  const root = parseXml(xml);
  expect(root.tag).toBe('testsuites');
  expectOnly(root, ['name', 'time', 'tests', 'failures', 'disabled', 'errors'], ['name', 'tests', 'failures', 'errors', 'time']);
  expect(order(root, { testsuite: 's' })).toMatch(/^s*$/);
  const total = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const suite of root.children) {
    expectOnly(suite, ['name', 'tests', 'failures', 'errors', 'time', 'disabled', 'skipped', 'timestamp', 'hostname', 'id', 'package', 'file', 'log', 'url', 'version'],
      ['name', 'tests', 'failures', 'errors', 'time']);
    expect(order(suite, { properties: 'p', testcase: 't', 'system-out': 'o', 'system-err': 'e' })).toMatch(/^p?t*o?e?$/);
    for (const k of ['tests', 'failures', 'errors', 'skipped'] as const) if (suite.attrs[k] !== undefined) expect(suite.attrs[k]).toMatch(COUNT);
    expect(suite.attrs.time).toMatch(DECIMAL);
    for (const props of suite.children.filter((c) => c.tag === 'properties')) {
      expect(order(props, { property: 'p' })).toMatch(/^p*$/);
      for (const p of props.children) expectOnly(p, ['name', 'value'], ['name', 'value']);
    }
    const cases = suite.children.filter((c) => c.tag === 'testcase');
    let failed = 0;
    let errored = 0;
    let skipped = 0;
    let time = 0;
    for (const c of cases) {
      expectOnly(c, ['name', 'assertions', 'time', 'classname', 'status'], ['name', 'classname', 'time']);
      expect(c.attrs.time).toMatch(DECIMAL);
      time += Number(c.attrs.time);
      expect(order(c, { skipped: 's', error: 'e', failure: 'f', 'system-out': 'o', 'system-err': 'r' })).toMatch(/^s?e*f*o*r*$/);
      for (const k of c.children) {
        if (k.tag === 'failure' || k.tag === 'error') expectOnly(k, ['message', 'type'], ['message']);
        if (k.tag === 'skipped') expectOnly(k, ['message'], ['message']);
      }
      if (c.children.some((k) => k.tag === 'failure')) failed++;
      if (c.children.some((k) => k.tag === 'error')) errored++;
      if (c.children.some((k) => k.tag === 'skipped')) skipped++;
    }
    expect(Number(suite.attrs.tests), `tests of ${suite.attrs.name}`).toBe(cases.length);
    expect(Number(suite.attrs.failures), `failures of ${suite.attrs.name}`).toBe(failed);
    expect(Number(suite.attrs.errors), `errors of ${suite.attrs.name}`).toBe(errored);
    expect(Number(suite.attrs.skipped ?? 0), `skipped of ${suite.attrs.name}`).toBe(skipped);
    expect(Math.abs(Number(suite.attrs.time) - time)).toBeLessThanOrEqual(0.001 * (cases.length + 1));
    total.tests += cases.length;
    total.failures += failed;
    total.errors += errored;
    total.skipped += skipped;
  }
  expect(Number(root.attrs.tests)).toBe(total.tests);
  expect(Number(root.attrs.failures)).toBe(total.failures);
  expect(Number(root.attrs.errors)).toBe(total.errors);
  expect(root.attrs.time).toMatch(DECIMAL);
  return { ...total, suites: root.children };
}

function suiteNamed(j: JunitCounts, name: string): El {
  const s = j.suites.find((x) => x.attrs.name === name);
  expect(s, `testsuite ${name}`).toBeDefined();
  return s as El;
}

function testcases(suite: El): El[] {
  return suite.children.filter((c) => c.tag === 'testcase');
}

function propertiesOf(suite: El): Record<string, string> {
  const props = suite.children.find((c) => c.tag === 'properties');
  return Object.fromEntries((props?.children ?? []).map((p) => [p.attrs.name, p.attrs.value]));
}

// ---------------------------------------------------------------------------------------------

describe('xmlEscape', () => {
  it('should turn the five markup characters into entities', () => {
    expect(xmlEscape(`a < b && c > "d" 'e'`)).toBe('a &lt; b &amp;&amp; c &gt; &quot;d&quot; &apos;e&apos;');
    expect(xmlEscape('&amp;')).toBe('&amp;amp;');
  });

  it('should keep tab and LF in text but not in attributes, and always encode CR', () => {
    expect(xmlEscape('a\tb\nc\rd')).toBe('a\tb\nc&#13;d');
    expect(xmlEscape('a\tb\nc\rd', true)).toBe('a&#9;b&#10;c&#13;d');
  });

  it('should write characters XML cannot hold as visible \\uXXXX text', () => {
    expect(xmlEscape('x\u0000y\u0001\u001b[0m\u000b\u000c\ufffe')).toBe('x\\u0000y\\u0001\\u001b[0m\\u000b\\u000c\\ufffe');
    expect(xmlEscape('lone \ud800 and \udc00')).toBe('lone \\ud800 and \\udc00');
    expect(xmlEscape('pair \u{1f41b} é ü')).toBe('pair \u{1f41b} é ü');
  });
});

describe('junitXml', () => {
  let dir: string;
  let cleanup: () => void;
  let result: CampaignResult;
  let compared: CampaignResult;
  beforeAll(async () => {
    ({ dir, cleanup } = tempDir('junit'));
    // fake-always-enters fails (ASID 0), fake-holds holds, fake-compare is skipped (it compares).
    result = await runCampaign({ registry: FAKE_REGISTRY, outDir: dir, seed: 'junit', runs: 100, profiles: [kvmNext] });
    compared = await runCampaign({ registry: FAKE_REGISTRY, outDir: dir, seed: 'junit', runs: 20, compare: [kvmNext, unified] });
  });
  afterAll(() => cleanup());

  it('should give one testsuite per property and one testcase per pair, in the junit-10 shape', () => {
    expect(result.failures).toHaveLength(1);
    const j = checkJunit(junitXml(result));
    expect(j.suites.map((s) => s.attrs.name)).toEqual(['fake-always-enters', 'fake-holds', 'fake-compare']);
    expect(j).toMatchObject({ tests: 3, failures: 1, errors: 0, skipped: 1 });
    const held = testcases(suiteNamed(j, 'fake-holds'));
    expect(held.map((c) => c.attrs)).toEqual([{ name: 'kvm-next', classname: 'nestfuzz.fake-holds', time: expect.stringMatching(DECIMAL) as unknown }]);
    expect(held[0].children.map((c) => c.tag)).toEqual(['system-out']);
    expect(held[0].children[0].text).toMatch(/^100 run\(s\), fast-check seed -?\d+, stopped by runs$/);
    expect(propertiesOf(suiteNamed(j, 'fake-holds'))).toEqual({ seed: 'junit', profiles: 'kvm-next', interrupted: 'false' });
  });

  it('should put the verdict in the failure and the corpus file, shrink log and replay command in its text', () => {
    const f = result.failures[0];
    const [tc] = testcases(suiteNamed(checkJunit(junitXml(result)), 'fake-always-enters'));
    const failure = tc.children.find((c) => c.tag === 'failure') as El;
    expect(failure.attrs).toEqual({ message: `${f.verdict.code}: ${f.verdict.message}`, type: 'not-entered' });
    expect(failure.text).toContain(`corpus:     ${f.corpusFile}`);
    expect(failure.text).toContain(`shrink log: ${f.shrinkLogFile}`);
    expect(failure.text).toContain(`replay:     npm run replay -- ${f.corpusFile}`);
    expect(failure.text).toContain(`fast-check: { seed: ${f.seed}, path: ${JSON.stringify(f.path)} }`);
  });

  it('should show a skipped property as a testcase with a skipped message', () => {
    const [tc] = testcases(suiteNamed(checkJunit(junitXml(result)), 'fake-compare'));
    expect(tc.attrs).toMatchObject({ name: 'kvm-next', time: '0.000' });
    expect(tc.children.map((c) => [c.tag, c.attrs.message])).toEqual([['skipped', result.skipped[0].reason]]);
  });

  it('should name a compare pair "a vs b" and record compare in the properties', () => {
    const j = checkJunit(junitXml(compared));
    expect(testcases(suiteNamed(j, 'fake-compare')).map((c) => c.attrs.name)).toEqual(['kvm-next vs unified']);
    expect(testcases(suiteNamed(j, 'fake-holds'))[0].children.map((c) => c.tag)).toEqual(['skipped']);
    expect(propertiesOf(suiteNamed(j, 'fake-compare'))).toEqual({ seed: 'junit', profiles: 'kvm-next,unified', compare: 'kvm-next,unified', interrupted: 'false' });
  });

  it('should use the property area in classname when it is known', () => {
    const j = checkJunit(junitXml(result, { areaOf: (id) => fakeLookup(id)?.area }));
    expect(testcases(suiteNamed(j, 'fake-holds'))[0].attrs.classname).toBe('nestfuzz.svm.fake-holds');
  });

  it('should carry a verdict message with markup, quotes and control characters through parsing', () => {
    const nasty = `</failure><x a="1"> & 'q' "qq" \r\n\ttab ]]> \u0007 end`;
    const r = structuredClone(result);
    const f = r.failures[0] as CampaignFailure;
    f.verdict = { code: 'code<&>"', message: nasty };
    f.corpusFile = join(dir, `it's <here> & "there".json`);
    const xml = junitXml(r);
    const j = checkJunit(xml);
    const [tc] = testcases(suiteNamed(j, 'fake-always-enters'));
    const failure = tc.children.find((c) => c.tag === 'failure') as El;
    const visible = nasty.replace('\u0007', '\\u0007');
    expect(failure.attrs.type).toBe('code<&>"');
    expect(failure.attrs.message).toBe(`code<&>": ${visible}`);
    expect(failure.text).toContain(visible);
    expect(failure.text).toContain(`replay:     npm run replay -- '${join(dir, `it'\\''s <here> & "there".json`)}'`);
    expect(xml).not.toContain('<x a=');
  });

  it('should leave out a property whose pairs the campaign never reached', () => {
    const r = structuredClone(result);
    r.pairs = r.pairs.filter((p) => p.property !== 'fake-holds');
    r.interrupted = true;
    const j = checkJunit(junitXml(r));
    expect(j.suites.map((s) => s.attrs.name)).toEqual(['fake-always-enters', 'fake-compare']);
    expect(propertiesOf(j.suites[0]).interrupted).toBe('true');
  });
});

describe('writeCampaignFiles', () => {
  it('should write summary.json, junit.xml and report.html, and no temporary file', async () => {
    const { dir, cleanup } = tempDir('reports');
    try {
      const r = await runCampaign({ registry: FAKE_REGISTRY, outDir: dir, seed: 'files', runs: 50, profiles: [kvmNext], properties: ['fake-holds'] });
      const files = writeCampaignFiles(dir, r);
      expect(files).toEqual({ summaryFile: join(dir, 'summary.json'), junitFile: join(dir, 'junit.xml'), reportFile: join(dir, 'report.html') });
      expect(readFileSync(files.reportFile, 'utf8')).toMatch(/^<!doctype html>/);
      expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
      const text = readFileSync(files.summaryFile, 'utf8');
      expect(text).toBe(summaryJson(r));
      const s = fromJson<Record<string, unknown>>(text);
      expect(Object.keys(s).slice(0, 3)).toEqual(['schema', 'failed', 'interrupted']);
      expect(s).toEqual({ schema: 1, ...r });
      expect(readFileSync(files.junitFile, 'utf8')).toBe(junitXml(r));
    } finally {
      cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// the real CLI

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startFuzz(args: string[]): { child: ReturnType<typeof spawn>; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), 'fuzz', ...args], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/** Poll until a counterexample is saved under `corpusDir` (listCorpus skips the temporary files). */
async function firstCounterexample(corpusDir: string, child: ReturnType<typeof spawn>, timeoutMs: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const found = listCorpus(corpusDir);
    if (found.length > 0) return found[0].file;
    if (child.exitCode !== null) throw new Error(`fuzz exited (${child.exitCode}) before saving a counterexample`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`no counterexample under ${corpusDir} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readSummary(dir: string): CampaignResult & { schema: number } {
  return fromJson<CampaignResult & { schema: number }>(readFileSync(join(dir, 'summary.json'), 'utf8'));
}

describe('fuzz reports (CLI)', () => {
  it('should write summary.json and junit.xml after a campaign that held', () => {
    const { dir, cleanup } = tempDir('reports-cli');
    try {
      const r = cli('fuzz', '--profile', 'kvm-next', '--property', 'vmrun-failure-clean', '--runs', '20', '--out', dir);
      expect(r.code, r.stderr).toBe(0);
      const s = readSummary(dir);
      expect(s).toMatchObject({ schema: 1, failed: false, interrupted: false, runs: 20, failures: [] });
      const j = checkJunit(readFileSync(join(dir, 'junit.xml'), 'utf8'));
      expect(j).toMatchObject({ tests: 1, failures: 0, skipped: 0 });
      expect(testcases(j.suites[0])[0].attrs).toMatchObject({ name: 'kvm-next', classname: 'nestfuzz.svm.vmrun-failure-clean' });
    } finally {
      cleanup();
    }
  });

  // A bug profile that fails within a few hundred cases, followed by a property that holds: the
  // signal arrives while the second pair runs, after the first saved its counterexample.
  it.each(['SIGTERM', 'SIGINT'] as const)('should stop on %s, keep every counterexample and exit 1', async (signal) => {
    const { dir, cleanup } = tempDir(`reports-${signal}`);
    const { child, exited } = startFuzz([
      '--profile', 'no-ncr3-check', '--property', 'vmrun-verdict-matches-apm', '--property', 'gif-semantics',
      '--time', '60s', '--out', dir,
    ]);
    try {
      await firstCounterexample(join(dir, 'corpus'), child, 12_000);
      const t0 = Date.now();
      child.kill(signal);
      const r = await Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`fuzz still running 5 s after ${signal}`)), 5000)),
      ]);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`${signal}: stopping`);
      expect(r.stdout).toMatch(/invariant failure\(s\) \(interrupted\)/);

      const s = readSummary(dir);
      expect(s).toMatchObject({ schema: 1, failed: true, interrupted: true });
      expect(s.failures.length).toBeGreaterThan(0);
      for (const f of s.failures) {
        expect(existsSync(f.corpusFile), f.corpusFile).toBe(true);
        expect(loadCorpusFile(f.corpusFile)).toMatchObject({ property: f.property, profile: f.profile, verdict: f.verdict });
        if (f.shrinkLogFile) expect(existsSync(f.shrinkLogFile), f.shrinkLogFile).toBe(true);
      }
      // Every counterexample on disk is in the summary.
      expect(listCorpus(join(dir, 'corpus')).map((l) => l.file).sort()).toEqual([...new Set(s.failures.map((f) => f.corpusFile))].sort());

      const j = checkJunit(readFileSync(join(dir, 'junit.xml'), 'utf8'));
      expect(j.failures).toBe(s.failures.length);
      expect(propertiesOf(j.suites[0])).toMatchObject({ profiles: 'no-ncr3-check', interrupted: 'true' });
      const failure = testcases(suiteNamed(j, 'vmrun-verdict-matches-apm'))[0].children.find((c) => c.tag === 'failure') as El;
      expect(failure.text).toContain(`npm run replay -- ${s.failures[0].corpusFile}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      cleanup();
    }
  });
});
