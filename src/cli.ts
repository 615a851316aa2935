// nestfuzz command line: parses flags, calls campaign/, prints. Every user error is one line on
// stderr, `nestfuzz: error: <message> (<fix>)`, and exit code 2.
//
// Exit codes: 0 every invariant held (replay: no longer reproduces); 1 an invariant failed
// (replay: still fails, as expected); 2 usage or input error; 3 internal error; 130 interrupted.

import { applyCampaignV8Flags } from './campaign/v8Flags.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { l1FromState } from './campaign/l1State.ts';
import { checkVmcbPage, readVmcbPages } from './campaign/checkPage.ts';
import { checkVmxScenario, formatVmcs12Verdict, readVmcs12States, vmxScenarioFromState } from './campaign/checkVmcs12.ts';
import { writeCampaignFiles } from './campaign/campaignFiles.ts';
import { NestfuzzError, oneLine } from './campaign/errors.ts';
import { formatCampaignSummary, formatListing, formatReplay, replayJson } from './campaign/format.ts';
import { listing } from './campaign/list.ts';
import { createCliLogger } from './campaign/log.ts';
import { replayCorpusFile } from './campaign/replay.ts';
import { type CampaignProgress } from './campaign/runner.ts';
import { runCampaignWorkers } from './campaign/workers.ts';
import { requireProfile } from './campaign/select.ts';
import { mergeCampaigns, readSummary } from './campaign/merge.ts';
import { htmlReport } from './campaign/htmlReport.ts';
import { formatTriage, replayOracleBuckets, triage } from './campaign/triage.ts';
import { newProperty } from './campaign/newProperty.ts';
import { toJson } from './campaign/serialize.ts';
import { DEFAULT_PROFILE } from './engine/profile_list.ts';
import type { Profile } from './engine/profiles.ts';

const USAGE = `usage: nestfuzz <command> [options]

  fuzz    [--time 30s|2m|500ms] [--runs N] [--seed S] [--property GLOB]... [--profile NAME]...
          [--time-per-property 5s] [--compare A,B] [--strict-arch] [--shard i/n] [--workers N]
          [--min-coverage PERCENT] [--oracle qemu-svm|bochs-svm|bochs-vmx] [--out DIR] [--json]
  replay  <corpus-file> [--json]
  merge   <campaign-dir>... --out DIR
  triage  <campaign-dir> [--known CORPUS-DIR] [--json]
  report  <campaign-dir> [--history summary.json]... [--out report.html]
  new-property <area>/<id>
  list    [--json]
  check   --vmcb <page.bin|dir> [--l1 state.json] [--profile NAME] [--json]
  check   --vmcs12 <state.json|dir> [--profile NAME] [--json]
  oracle  --emulator qemu-svm|bochs-svm|bochs-vmx (--generate N [--seed S] | --cases <dir|corpus-file>) [--jobs N]
          [--profile NAME] [--corpus DIR | --no-corpus] [--no-shrink] [--json]
          (--cases: oracle counterexamples of that emulator, corpus/oracle/<emulator>/; on an SVM
          emulator also nested-SVM VMRUN counterexamples, projected onto the harness)
  export  <corpus-file> --out DIR
  help
`;

const COMMANDS = ['fuzz', 'replay', 'list', 'check', 'merge', 'triage', 'report', 'new-property', 'oracle', 'export', 'help'] as const;

type Options = NonNullable<ParseArgsConfig['options']>;

function usageError(message: string, fix = 'run `nestfuzz help` for usage'): NestfuzzError {
  return new NestfuzzError('NESTFUZZ_USAGE', message, fix);
}

/** node:util parseArgs in strict mode, its errors turned into one-line NESTFUZZ_USAGE errors. */
function parseFlags<O extends Options>(command: string, args: string[], options: O, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const msg = oneLine(e);
    const opt = /'(-[^' ]+)/.exec(msg)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usageError(`unknown option ${opt ?? msg} for \`${command}\``);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw usageError(`option ${opt ?? ''} ${/argument missing/.test(msg) ? 'needs a value' : 'takes no value'}`.replace(/\s+/g, ' '));
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw usageError(`\`${command}\` takes no argument ${msg.match(/'([^']*)'/)?.[0] ?? ''}`.trim());
    throw usageError(msg.split('. ')[0]);
  }
  if (parsed.positionals.length > positionals) {
    throw usageError(`\`${command}\` takes ${positionals} argument(s), got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`);
  }
  return parsed;
}

/** '30s', '2m', '500ms', '1h', '1.5s'; a bare number is seconds. */
function parseDuration(text: string, flag = '--time'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const scale: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const ms = m ? Number(m[1]) * scale[m[2] ?? 's'] : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw usageError(`${flag} ${JSON.stringify(text)} is not a duration`, 'write it like 30s, 2m or 500ms');
  return ms;
}

function parseRuns(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw usageError(`--runs ${JSON.stringify(text)} is not a positive whole number`, 'write it like --runs 1000');
  }
  return Number(text);
}

function parseCompare(text: string): [Profile, Profile] {
  const names = text.split(',').map((s) => s.trim());
  if (names.length !== 2 || names.some((n) => n === '')) throw usageError(`--compare ${JSON.stringify(text)} must name two profiles`, 'write it like --compare kvm-next,unified');
  return [requireProfile(names[0]), requireProfile(names[1])];
}

function out(text: string): void {
  process.stdout.write(text);
}

// ---------------------------------------------------------------------------------------------
// commands

async function cmdFuzz(args: string[]): Promise<number> {
  applyCampaignV8Flags();
  const { values } = parseFlags('fuzz', args, {
    time: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string' },
    property: { type: 'string', multiple: true },
    profile: { type: 'string', multiple: true },
    compare: { type: 'string' },
    'strict-arch': { type: 'boolean' },
    shard: { type: 'string' },
    workers: { type: 'string' },
    'time-per-property': { type: 'string' },
    'min-coverage': { type: 'string' },
    oracle: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  }, 0);
  if (values.compare !== undefined && values.profile !== undefined) {
    throw usageError('--compare and --profile cannot be combined', 'use --compare A,B alone to run comparing properties on two profiles');
  }
  const timeMs = values.time === undefined ? undefined : parseDuration(values.time);
  const runs = values.runs === undefined ? undefined : parseRuns(values.runs);
  const compare = values.compare === undefined ? undefined : parseCompare(values.compare);
  const profiles = values.profile?.map(requireProfile);
  const shard = values.shard === undefined ? undefined : parseShard(values.shard);
  // Default: one worker per core; a replay or --compare of one pair needs no more than one.
  const workers = values.workers === undefined ? availableParallelism() : parseWorkers(values.workers);
  const minCoverage = values['min-coverage'] === undefined ? undefined : parsePercent(values['min-coverage']);

  const tty = Boolean(process.stderr.isTTY);
  const logger = createCliLogger({ clearLine: tty });
  const ac = new AbortController();
  // SIGINT (Ctrl-C) and SIGTERM (CI timeouts, `kill`) both stop the campaign, which still returns
  // what it found. The first one removes both handlers, so a second signal ends the process at once.
  const stopSignals = ['SIGINT', 'SIGTERM'] as const;
  const onStopSignal = (signal: NodeJS.Signals): void => {
    for (const s of stopSignals) process.off(s, onStopSignal);
    ac.abort();
    const again = signal === 'SIGINT' ? 'Ctrl-C' : 'send the signal';
    logger.warn({ signal }, `${signal}: stopping; counterexamples found so far are saved (${again} again to quit now)`);
  };
  for (const s of stopSignals) process.on(s, onStopSignal);
  let progressShown = false;
  const onProgress = (p: CampaignProgress): void => {
    if (!tty || p.elapsedMs < 1000) return;
    const pair = `${p.property} on ${p.profile}${p.otherProfile ? ` vs ${p.otherProfile}` : ''}`;
    process.stderr.write(`\r\x1b[K[${p.pairIndex + 1}/${p.pairCount}] ${pair}: ${p.pairRuns} runs | ${p.totalRuns} total, ${p.failures} failure(s), ${(p.elapsedMs / 1000).toFixed(1)} s`);
    progressShown = true;
  };
  // --oracle <adapter> (SVM or VMX): engine-agrees-with-<adapter> rides along until the campaign ends.
  const oracle = values.oracle === undefined ? null : await import('./oracle/ride.ts');
  if (values.oracle !== undefined) (await import('./oracle/session.ts')).requireAdapter(values.oracle);
  const rideStop = new AbortController();
  ac.signal.addEventListener('abort', () => rideStop.abort(), { once: true });
  const ride = oracle && values.oracle !== undefined
    ? oracle.rideOracle({
        adapter: values.oracle, seed: values.seed ?? 'nestfuzz', profile: profiles?.[0] ?? requireProfile(DEFAULT_PROFILE),
        timeMs: timeMs ?? Infinity, signal: rideStop.signal, corpusDir: join(values.out ?? '.', 'corpus'),
      })
    : null;
  try {
    let result = await runCampaignWorkers({
      properties: values.property ?? ['*'],
      ...(profiles ? { profiles } : {}),
      ...(compare ? { compare } : {}),
      seed: values.seed ?? 'nestfuzz',
      ...(timeMs !== undefined ? { timeMs } : {}),
      ...(values['time-per-property'] !== undefined ? { timePerPropertyMs: parseDuration(values['time-per-property'], '--time-per-property') } : {}),
      ...(runs !== undefined ? { runs } : {}),
      strictArch: values['strict-arch'] ?? false,
      outDir: values.out ?? '.',
      ...(shard ? { shard } : {}),
      onProgress,
      logger,
      signal: ac.signal,
    }, workers);
    // With --time the ride keeps its whole budget; without, it ends with the campaign's pairs.
    if (timeMs === undefined) rideStop.abort();
    if (ride) result = (await import('./oracle/rideResult.ts')).withOracleRide(result, await ride, values.out ?? '.');
    if (progressShown) process.stderr.write('\r\x1b[K');
    // --min-coverage: the share of known consistency checks that fired in a sampled case.
    const known = Object.keys(result.checks).length;
    const coverage = known ? (100 * result.checksHit.length) / known : 100;
    const coverageGate = minCoverage === undefined ? null : { required: minCoverage, actual: +coverage.toFixed(1), met: coverage >= minCoverage, never_hit: result.neverHit };
    if (coverageGate) (result as unknown as Record<string, unknown>).coverage_gate = coverageGate;
    // summary.json and junit.xml for every outcome: held, failed or interrupted. A failure to write
    // them is logged and leaves the exit code to the campaign (1 failed, 130 interrupted, 0 held).
    try {
      const files = writeCampaignFiles(values.out ?? '.', result);
      logger.info({ summary: files.summaryFile, junit: files.junitFile }, 'campaign reports written');
    } catch (e) {
      logger.error({ error: oneLine(e) }, 'could not write summary.json / junit.xml');
    }
    out(values.json ? `${toJson(result, 2)}\n` : formatCampaignSummary(result));
    if (coverageGate && !coverageGate.met) {
      out(`coverage:   ${coverageGate.actual}% of checks fired, below --min-coverage ${coverageGate.required}% (never hit: ${result.neverHit.length})\n`);
      return 1;
    }
    if (result.failed) return 1;
    return result.interrupted ? 130 : 0;
  } finally {
    for (const s of stopSignals) process.off(s, onStopSignal);
  }
}

function parsePercent(text: string): number {
  const n = Number(text.replace(/%$/, ''));
  if (!/^\d+(\.\d+)?%?$/.test(text) || n > 100) throw usageError(`--min-coverage ${JSON.stringify(text)} is not a percentage`, 'write it like --min-coverage 90 (0 to 100)');
  return n;
}

function parseWorkers(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 256) throw usageError(`--workers ${JSON.stringify(text)} is not a worker count`, 'write it like --workers 2 (1 to 256)');
  return Number(text);
}

/** '2/4': shard 2 of 4. */
function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw usageError(`--shard ${JSON.stringify(text)} is not a shard`, 'write it like --shard 1/4 (1 ≤ i ≤ n)');
  return { index, count };
}

function cmdMerge(args: string[]): number {
  const { values, positionals } = parseFlags('merge', args, { out: { type: 'string' } }, Infinity);
  if (values.out === undefined) throw usageError('`merge` needs --out DIR', 'run `nestfuzz merge shard-1 shard-2 --out merged`');
  const r = mergeCampaigns(positionals, values.out);
  out(`nestfuzz merge: ${r.inputs.length} campaign(s) into ${r.out}: ${r.files} file(s) copied, ${r.buckets} bucket(s)${r.summary ? `, ${r.summary.pairs.length} pair(s), ${r.summary.failures.length} failure(s)` : ''}\n`);
  return r.summary?.failed ? 1 : 0;
}

function cmdReport(args: string[]): number {
  const { values, positionals } = parseFlags('report', args, { history: { type: 'string', multiple: true }, out: { type: 'string' } }, 1);
  if (positionals.length !== 1) throw usageError('`report` needs one campaign directory', 'run `nestfuzz report out/night --history out/2026-11-24/merged/summary.json`');
  const summary = readSummary(positionals[0]);
  if (!summary) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${positionals[0]} has no summary.json`, 'point it at a directory written by `nestfuzz fuzz --out DIR` or `nestfuzz merge`');
  const history = (values.history ?? []).map((f) => {
    const s = readSummary(dirname(f));
    if (!s) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${f} is not a summary.json`, 'pass the summary.json files of earlier nights');
    return s;
  });
  const file = values.out ?? join(positionals[0], 'report.html');
  writeFileSync(file, htmlReport(summary, { history }));
  out(`wrote ${file}\n`);
  return 0;
}

function cmdNewProperty(args: string[]): number {
  const { positionals } = parseFlags('new-property', args, {}, 1);
  if (positionals.length !== 1) throw usageError('`new-property` needs <area>/<id>', 'run `nestfuzz new-property svm/my-invariant`');
  const s = newProperty(positionals[0]);
  out(`created ${s.propertyFile} and ${s.testFile}${s.registered ? '; registered in properties/index.ts' : ''}\nnext: write the predicate, then \`npm run fuzz -- --property ${positionals[0].split('/')[1]} --time 60s\`\n`);
  return 0;
}

async function cmdTriage(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('triage', args, { known: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (positionals.length !== 1) throw usageError('`triage` needs one campaign directory', 'run `nestfuzz triage <campaign-dir> [--known corpus]`');
  let t = triage(positionals[0], values.known ?? 'corpus');
  // Quiet known oracle buckets replay on their emulator (engine against emulator, the bucket's profile).
  if (t.unverified.length) {
    const { oracleFileReproduces } = await import('./oracle/session.ts');
    t = await replayOracleBuckets(t, (file, b) => oracleFileReproduces(file, requireProfile(b.profile)));
  }
  out(values.json ? `${toJson(t, 2)}\n` : formatTriage(t));
  return t.fresh.length ? 1 : 0;
}

function cmdReplay(args: string[]): number {
  const { values, positionals } = parseFlags('replay', args, { json: { type: 'boolean' } }, 1);
  if (positionals.length !== 1) throw usageError('`replay` needs a corpus file', 'run `nestfuzz replay corpus/<property>/<hash>.json`');
  const r = replayCorpusFile(positionals[0]);
  out(values.json ? `${toJson(replayJson(r), 2)}\n` : formatReplay(r));
  return r.reproduces ? 1 : 0;
}

function cmdList(args: string[]): number {
  const { values } = parseFlags('list', args, { json: { type: 'boolean' } }, 0);
  const l = listing();
  out(values.json ? `${JSON.stringify(l)}\n` : formatListing(l));
  return 0;
}

function readState(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${file} (${oneLine(e)})`, 'pass a readable JSON file to --l1');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} is not valid JSON (${oneLine(e)})`, 'fix the JSON syntax');
  }
}

function cmdCheck(args: string[]): number {
  const { values } = parseFlags('check', args, {
    vmcb: { type: 'string' },
    vmcs12: { type: 'string' },
    l1: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'boolean' },
  }, 0);
  if (values.vmcb !== undefined && values.vmcs12 !== undefined) {
    throw usageError('--vmcb and --vmcs12 cannot be combined', 'check a VMCB page (nested SVM) or a vmcs12 state (nested VMX), one at a time');
  }
  if (values.vmcs12 !== undefined) return checkVmcs12(values.vmcs12, values.profile, values.json ?? false, values.l1 !== undefined);
  if (values.vmcb === undefined) throw usageError('`check` needs --vmcb <page.bin|dir> or --vmcs12 <state.json|dir>', 'pass a raw 4096-byte VMCB page, a vmcs12 state.json, or a directory of them');
  const profile = requireProfile(values.profile ?? DEFAULT_PROFILE);
  const l1 = values.l1 === undefined ? undefined : l1FromState(readState(values.l1), values.l1);
  const { directory, pages } = readVmcbPages(values.vmcb);
  // Output is JSON lines in both modes (the oracles diff them); --json is accepted for symmetry.
  for (const { file, page } of pages) {
    const v = checkVmcbPage(page, profile, l1 === undefined ? undefined : structuredClone(l1));
    out(`${JSON.stringify(directory ? { file, ...v } : v)}\n`);
  }
  return 0;
}

/** `check --vmcs12`: JSON lines with --json, one readable line per state otherwise. */
function checkVmcs12(target: string, profileName: string | undefined, json: boolean, hasL1: boolean): number {
  if (hasL1) throw usageError('--l1 goes with --vmcb', 'put L1 registers in the "l1" object of the vmcs12 state.json');
  const profile = requireProfile(profileName ?? DEFAULT_PROFILE);
  const { directory, states } = readVmcs12States(target);
  // Every state is parsed before any is run, so bad input prints nothing but the error line.
  const scenarios = states.map((s) => ({ file: s.file, scenario: vmxScenarioFromState(s.json, s.path) }));
  for (const { file, scenario } of scenarios) {
    const v = checkVmxScenario(scenario, profile);
    if (json) out(`${JSON.stringify(directory ? { file, ...v } : v)}\n`);
    else out(`${formatVmcs12Verdict(v, directory ? file : undefined)}\n`);
  }
  return 0;
}

function parseCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) throw usageError(`${flag} ${JSON.stringify(text)} is not a positive whole number`, `write it like ${flag} 1000`);
  return Number(text);
}

/** `oracle`: exit 1 when a divergence no listed entry explains was found. */
async function cmdOracle(args: string[]): Promise<number> {
  const { values } = parseFlags('oracle', args, {
    emulator: { type: 'string' },
    generate: { type: 'string' },
    seed: { type: 'string' },
    cases: { type: 'string' },
    jobs: { type: 'string' },
    profile: { type: 'string' },
    corpus: { type: 'string' },
    'no-corpus': { type: 'boolean' },
    'no-shrink': { type: 'boolean' },
    json: { type: 'boolean' },
  }, 0);
  if (values.emulator === undefined) throw usageError('`oracle` needs --emulator <name>', 'run `nestfuzz oracle --emulator qemu-svm --generate 10000`');
  if (values.corpus !== undefined && values['no-corpus']) throw usageError('--corpus and --no-corpus cannot be combined');
  if (values.seed !== undefined && values.generate === undefined) throw usageError('--seed goes with --generate');
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw usageError(`--seed ${JSON.stringify(values.seed)} is not an integer`);
  const { runOracleSession } = await import('./oracle/session.ts');
  const { formatOracleReport } = await import('./oracle/format.ts');
  const r = await runOracleSession({
    emulator: values.emulator,
    profile: requireProfile(values.profile ?? DEFAULT_PROFILE),
    jobs: values.jobs === undefined ? availableParallelism() : parseCount(values.jobs, '--jobs'),
    ...(values.generate !== undefined ? { generate: { count: parseCount(values.generate, '--generate'), seed } } : {}),
    ...(values.cases !== undefined ? { cases: values.cases } : {}),
    corpusDir: values['no-corpus'] ? null : (values.corpus ?? 'corpus'),
    shrink: !values['no-shrink'],
  });
  out(values.json ? `${toJson(r, 2)}\n` : formatOracleReport(r));
  return r.unexplained.length ? 1 : 0;
}

/** `export`: a counterexample as a bootable reproducer (repro.elf, repro.c, README.txt). */
async function cmdExport(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('export', args, { out: { type: 'string' } }, 1);
  if (positionals.length !== 1) throw usageError('`export` needs a corpus file', 'run `nestfuzz export corpus/<property>/<hash>.json --out repro/`');
  if (values.out === undefined) throw usageError('`export` needs --out DIR', `run \`nestfuzz export ${positionals[0]} --out repro/\``);
  const { exportRepro } = await import('./oracle/export/export.ts');
  const r = exportRepro(positionals[0], values.out);
  out(`${r.title}\nwrote ${r.files.elf}, ${r.files.c}, ${r.files.readme}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) throw usageError('missing command', `use one of: ${COMMANDS.join(', ')}`);
  switch (command) {
    case 'fuzz':
      return cmdFuzz(rest);
    case 'replay':
      return cmdReplay(rest);
    case 'list':
      return cmdList(rest);
    case 'check':
      return cmdCheck(rest);
    case 'merge':
      return cmdMerge(rest);
    case 'triage':
      return cmdTriage(rest);
    case 'new-property':
      return cmdNewProperty(rest);
    case 'report':
      return cmdReport(rest);
    case 'oracle':
      return cmdOracle(rest);
    case 'export':
      return cmdExport(rest);
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return 0;
    default:
      throw usageError(`unknown command ${JSON.stringify(command)}`, `use one of: ${COMMANDS.join(', ')}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof NestfuzzError) {
      process.stderr.write(`${e.toLine()}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`nestfuzz: internal error: ${oneLine(e)}\n${e instanceof Error && e.stack ? `${e.stack}\n` : ''}`);
      process.exitCode = 3;
    }
  },
);
