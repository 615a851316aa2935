import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeVmcb } from '../../src/arch/svm/codec.ts';
import { validVmcb12 } from '../../src/arbitraries/_internals/builders/validVmcb12.ts';
import { cli, expectOneLineError, tempDir } from './helpers.ts';

describe('cli', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir('cli'));
    const valid = validVmcb12();
    writeFileSync(join(dir, 'valid.bin'), encodeVmcb(valid));
    const asid0 = validVmcb12();
    asid0.control.asid = 0;
    writeFileSync(join(dir, 'asid0.bin'), encodeVmcb(asid0));
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(4095));
    mkdirSync(join(dir, 'pages'));
    writeFileSync(join(dir, 'pages', 'b.bin'), encodeVmcb(asid0));
    writeFileSync(join(dir, 'pages', 'a.bin'), encodeVmcb(valid));
    writeFileSync(join(dir, 'pages', 'notes.txt'), 'ignored');
  });
  afterAll(() => cleanup());

  describe('flags', () => {
    it('should reject an unknown flag with one line and exit 2', () => {
      expectOneLineError(cli('fuzz', '--bogus'), /unknown option --bogus/);
    });

    it('should reject a bad duration, an unknown profile and an unknown command', () => {
      expectOneLineError(cli('fuzz', '--time', 'soon'), /--time "soon" is not a duration/);
      expectOneLineError(cli('fuzz', '--shard', '3/2', '--runs', '1'), /--shard "3\/2" is not a shard/);
      expectOneLineError(cli('merge', 'nowhere'), /`merge` needs --out DIR/);
      expectOneLineError(cli('fuzz', '--time-per-property', 'soon', '--runs', '1'), /--time-per-property "soon" is not a duration/);
      expectOneLineError(cli('fuzz', '--min-coverage', '120', '--runs', '1'), /--min-coverage "120" is not a percentage/);
      expectOneLineError(cli('merge', 'no-such-dir', '--out', 'x'), /no-such-dir is not a directory/);
      expectOneLineError(cli('triage'), /`triage` needs one campaign directory/);
      expectOneLineError(cli('report'), /`report` needs one campaign directory/);
      expectOneLineError(cli('report', 'no-such-campaign'), /no-such-campaign has no summary.json/);
      expectOneLineError(cli('new-property', 'nope'), /"nope" is not <area>\/<id>/);
      expectOneLineError(cli('fuzz', '--profile', 'linux-2.4', '--runs', '1'), /unknown profile "linux-2.4"/);
      expectOneLineError(cli('frobnicate'), /unknown command "frobnicate"/);
    });

    it('should reject a property pattern that matches nothing', () => {
      expectOneLineError(cli('fuzz', '--property', 'no-such-*', '--runs', '1', '--out', dir), /no-such-\*|no properties are registered/);
    });
  });

  describe('list', () => {
    it('should print properties, profiles and checks as JSON', () => {
      const r = cli('list', '--json');
      expect(r.code).toBe(0);
      const l = JSON.parse(r.stdout) as { properties: unknown[]; profiles: Array<Record<string, unknown>>; checks: Array<{ id: string }> };
      expect(Array.isArray(l.properties)).toBe(true);
      const kvmNext = l.profiles.find((p) => p.name === 'kvm-next');
      expect(kvmNext).toMatchObject({ bug: false, kind: 'kernel' });
      expect(Object.keys(kvmNext ?? {}).sort()).toEqual(['arch', 'bug', 'caughtBy', 'kind', 'name', 'patches', 'source', 'title']);
      expect(kvmNext).toMatchObject({ arch: 'any' });
      expect(l.profiles.find((p) => p.name === 'cve-2021-29657')).toMatchObject({ arch: 'svm', bug: true });
      expect(l.profiles.find((p) => p.name === 'cve-2018-12904')).toMatchObject({ arch: 'vmx', bug: true });
      expect(l.checks.map((c) => c.id)).toContain('vpid-zero');
      expect(l.checks.map((c) => c.id)).toContain('asid-zero');
    });
  });

  describe('check', () => {
    it('should enter L2 with a valid vmcb12 and report its first exit (VMMCALL)', () => {
      const r = cli('check', '--vmcb', join(dir, 'valid.bin'));
      expect(r.code).toBe(0);
      const v = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(v).toMatchObject({ outcome: 'entered', exit_code: '0x81', failed_checks: [] });
    });

    it('should fail VMRUN with ASID 0: VMEXIT_INVALID, asid-zero, GIF 0', () => {
      const r = cli('check', '--vmcb', join(dir, 'asid0.bin'), '--json');
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      expect(JSON.parse(r.stdout)).toEqual({ outcome: 'vmexit-invalid', exit_code: '0xffffffffffffffff', failed_checks: ['asid-zero'], gif: 0 });
    });

    it('should print one line per *.bin of a directory, sorted, with a file key', () => {
      const r = cli('check', '--vmcb', join(dir, 'pages'));
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l.file, l.outcome])).toEqual([['a.bin', 'entered'], ['b.bin', 'vmexit-invalid']]);
    });

    it('should apply --l1 overrides (CPL 3: VMRUN raises #GP)', () => {
      const state = join(dir, 'cpl3.json');
      writeFileSync(state, JSON.stringify({ cpl: 3, cr0: '0x80050033', host: { vgif: false } }));
      const r = cli('check', '--vmcb', join(dir, 'valid.bin'), '--l1', state);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: '#GP', failed_checks: ['vmrun-cpl-nonzero'] });
      const bad = join(dir, 'bad-state.json');
      writeFileSync(bad, JSON.stringify({ cr9: '0x0' }));
      expectOneLineError(cli('check', '--vmcb', join(dir, 'valid.bin'), '--l1', bad), /unknown field "cr9"/);
    });

    it('should reject a page that is not 4096 bytes', () => {
      expectOneLineError(cli('check', '--vmcb', join(dir, 'short.bin')), /4095 bytes/);
    });
  });

  describe('replay', () => {
    it('should reject a malformed corpus file with one line', () => {
      const file = join(dir, 'broken.json');
      writeFileSync(file, '{"schema": 1');
      expectOneLineError(cli('replay', file), /corpus file .*broken\.json: is not valid JSON/);
    });
  });
});
