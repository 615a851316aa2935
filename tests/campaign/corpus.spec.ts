import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  corpusHash, listCorpus, loadCorpus, loadCorpusFile, saveCounterexample, saveShrinkLog, toolVersion, type CorpusEntry,
} from '../../src/campaign/corpus.ts';
import { NestfuzzError } from '../../src/campaign/errors.ts';
import { toJson } from '../../src/campaign/serialize.ts';
import { fakeLookup, sampleCase, tempDir, asSvm } from './helpers.ts';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE } from '../../src/arbitraries/nestedFault.ts';
import { NO_INTERCEPTS } from '../../src/arbitraries/l2program.ts';

const isProperty = (id: string): boolean => fakeLookup(id) !== undefined;

/** A nested-paging stream case stored as a corpus entry, with its program edited by `edit`. */
function streamEntry(edit: (prog: Record<string, unknown>) => void): CorpusEntry {
  const c = buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, program: { ops: [{ op: 'cpuid' }], l1: NO_INTERCEPTS, rspOffset: 0 } }, []);
  edit(c.scenario.program as unknown as Record<string, unknown>);
  return { ...entry(), case: c } as unknown as CorpusEntry;
}

function entry(over: Partial<CorpusEntry> = {}): CorpusEntry {
  const c = sampleCase();
  return {
    schema: 1,
    tool: { name: 'nestfuzz', version: toolVersion() },
    property: 'fake-always-enters',
    profile: 'kvm-next',
    seed: -12345,
    path: '3:0:1',
    found_at: '2025-01-02T03:04:05.000Z',
    verdict: { code: 'not-entered', message: 'outcome vmexit-invalid' },
    expected: 'fail',
    mutations: c.mutations,
    case: c,
    ...over,
  };
}

function schemaError(fn: () => unknown): NestfuzzError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NestfuzzError);
    return e as NestfuzzError;
  }
  throw new Error('expected a NestfuzzError');
}

describe('corpus', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('corpus'));
  });
  afterEach(() => cleanup());

  describe('saveCounterexample', () => {
    it('should write <property>/<hash>.json that loads back equal', () => {
      const e = entry();
      const saved = saveCounterexample(dir, e);
      expect(saved.created).toBe(true);
      expect(saved.hash).toBe(corpusHash(e));
      expect(saved.file).toBe(join(dir, 'fake-always-enters', `${saved.hash}.json`));
      expect(loadCorpusFile(saved.file, { isProperty })).toEqual(e);
      expect(toolVersion()).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('should leave no temporary file behind (write + rename)', () => {
      saveCounterexample(dir, entry());
      expect(readdirSync(join(dir, 'fake-always-enters'))).toEqual([`${corpusHash(entry())}.json`]);
    });

    it('should be a no-op when the same counterexample is saved twice', () => {
      const first = saveCounterexample(dir, entry());
      const before = statSync(first.file).mtimeMs;
      const text = readFileSync(first.file, 'utf8');
      const second = saveCounterexample(dir, entry({ found_at: '2030-01-01T00:00:00.000Z', seed: 7 }));
      expect(second).toEqual({ ...first, created: false });
      expect(readFileSync(first.file, 'utf8')).toBe(text);
      expect(statSync(first.file).mtimeMs).toBe(before);
    });

    it('should name different counterexamples differently', () => {
      const other = entry();
      asSvm(other.case).scenario.vmcb12.control.asid = 2;
      expect(saveCounterexample(dir, other).hash).not.toBe(saveCounterexample(dir, entry()).hash);
      expect(listCorpus(dir)).toHaveLength(2);
    });

    it('should refuse a property id that cannot name a directory', () => {
      expect(schemaError(() => saveCounterexample(dir, entry({ property: '../x' }))).code).toBe('NESTFUZZ_BAD_INPUT');
    });
  });

  describe('saveShrinkLog', () => {
    it('should write shrink-logs/<property>/<hash>.log once', () => {
      const a = saveShrinkLog(dir, 'p', 'abc', 'Shrunk 1 time(s)');
      expect(readFileSync(a.file, 'utf8')).toBe('Shrunk 1 time(s)\n');
      expect(saveShrinkLog(dir, 'p', 'abc', 'other').created).toBe(false);
    });
  });

  describe('loadCorpusFile', () => {
    const bad: Array<[string, string, RegExp]> = [
      ['bad JSON', '{"schema": 1,', /not valid JSON/],
      ['wrong schema', toJson({ ...entry(), schema: 2 }), /schema is 2/],
      ['a missing field', toJson({ ...entry(), verdict: undefined }), /verdict/],
      ['an unknown property', toJson({ ...entry(), property: 'no-such-property' }), /unknown property "no-such-property"/],
      ['an unknown profile', toJson({ ...entry(), profile: 'linux-2.4' }), /unknown profile "linux-2.4"/],
      ['an unknown other profile', toJson({ ...entry(), other_profile: 'nope' }), /unknown profile "nope"/],
      ['expected other than fail', toJson({ ...entry(), expected: 'pass' }), /expected/],
      ['a case without a scenario', toJson({ ...entry(), case: { base: sampleCase().base, mutations: [] } }), /case\.scenario/],
      ['a top-level array', '[]', /not a JSON object/],
      ['an L2 stream with an unknown instruction', toJson(streamEntry((prog) => { prog.ops = [{ op: 'jmp' }]; })), /program\.ops\[0\]\.op must be one of/],
      ['an L2 stream whose MOV has no address', toJson(streamEntry((prog) => { prog.ops = [{ op: 'mov', store: true, size: 4 }]; })), /program\.ops\[0\]\.gva/],
      ['an L2 stream with a bad I/O mode', toJson(streamEntry((prog) => { (prog.l1 as Record<string, unknown>).io = 'some'; })), /program\.l1\.io/],
    ];
    for (const [what, text, re] of bad) {
      it(`should throw NESTFUZZ_CORPUS_SCHEMA with one line for ${what}`, () => {
        const file = join(dir, 'bad.json');
        writeFileSync(file, text);
        const e = schemaError(() => loadCorpusFile(file, { isProperty }));
        expect(e.code).toBe('NESTFUZZ_CORPUS_SCHEMA');
        expect(e.message, e.message).toMatch(re);
        expect(e.message).toContain(file);
        expect(e.toLine()).not.toContain('\n');
        expect(e.fix).not.toBe('');
      });
    }

    it('should throw NESTFUZZ_CORPUS_SCHEMA for a missing file', () => {
      expect(schemaError(() => loadCorpusFile(join(dir, 'missing.json'))).code).toBe('NESTFUZZ_CORPUS_SCHEMA');
    });
  });

  describe('listCorpus / loadCorpus', () => {
    it('should list nothing for a missing directory', () => {
      expect(listCorpus(join(dir, 'none'))).toEqual([]);
    });

    it('should fail on the first malformed file instead of skipping it', () => {
      saveCounterexample(dir, entry());
      writeFileSync(join(dir, 'fake-always-enters', 'zzzz.json'), 'nope');
      expect(listCorpus(dir).map((l) => l.hash)).toEqual([corpusHash(entry()), 'zzzz']);
      expect(schemaError(() => loadCorpus(dir, { isProperty })).code).toBe('NESTFUZZ_CORPUS_SCHEMA');
    });
  });
});
