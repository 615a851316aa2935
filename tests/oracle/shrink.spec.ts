// The batched shrinker's candidate rule and the VMX failure signature (no emulator needed).

import { describe, expect, it } from 'vitest';
import { oneStepSimpler } from '../../src/oracle/shrink.ts';
import { vmxFailureSignature } from '../../src/oracle/vmx/shrink.ts';
import type { VmxComparison } from '../../src/oracle/vmx/compare.ts';

describe('oneStepSimpler', () => {
  it('should drop each mutation, lower each non-zero index, then reset each non-default choice', () => {
    const built = oneStepSimpler({ snippet: 'hlt', ept: true }, ['a:3', 'b:0'], { snippet: 'cpuid', ept: true }, (choice, muts) => `${choice.snippet}/${choice.ept} ${muts.map(([id, k]) => `${id}:${k}`).join(' ')}`);
    expect(built).toEqual(['hlt/true b:0', 'hlt/true a:3', 'hlt/true a:0 b:0', 'cpuid/true a:3 b:0']);
  });

  it('should offer nothing for the valid base in its default choice', () => {
    expect(oneStepSimpler({ snippet: 'cpuid', ept: true }, [], { snippet: 'cpuid', ept: true }, () => 1)).toEqual([]);
  });
});

describe('vmxFailureSignature', () => {
  const cmp = (engine: VmxComparison['engine'], emu: VmxComparison['emu'], diff: string[]): VmxComparison => ({ engine, emu, engineFailed: [], diff, explainedBy: null });

  it('should pin the side that stopped earlier and keep of the other only that it got further', () => {
    // SDM 31.4: VMfailValid 7 (controls) and 8 (host state) are different failures; what the engine did past them is not.
    const missedHostCheck = vmxFailureSignature(cmp({ kind: 'exit', reason: 10, qualification: 0n }, { kind: 'vmfail-valid', error: 8 }, ['kind']));
    expect(missedHostCheck).toBe('further/vmfail-valid:8/kind');
    expect(vmxFailureSignature(cmp({ kind: 'entry-failure', reason: 0x80000021, qualification: 0n }, { kind: 'vmfail-valid', error: 8 }, ['kind']))).toBe(missedHostCheck);
    expect(vmxFailureSignature(cmp({ kind: 'exit', reason: 10, qualification: 0n }, { kind: 'vmfail-valid', error: 7 }, ['kind']))).toBe('further/vmfail-valid:7/kind');
    // The engine fails a guest-state check the emulator does not make.
    expect(vmxFailureSignature(cmp({ kind: 'entry-failure', reason: 0x80000021, qualification: 0n }, { kind: 'exit', reason: 12, qualification: 0n }, ['kind']))).toBe('entry-failure:33/further/kind');
  });

  it('should keep both verdicts at the same stage, with exit reasons only when both exited', () => {
    expect(vmxFailureSignature(cmp({ kind: 'entry-failure', reason: 0x80000021, qualification: 4n }, { kind: 'entry-failure', reason: 0x80000021, qualification: 0n }, ['qualification'])))
      .toBe('entry-failure:33/entry-failure:33/qualification');
    expect(vmxFailureSignature(cmp({ kind: 'exit', reason: 10, qualification: 0n }, { kind: 'exit', reason: 0, qualification: 0n }, ['reason']))).toBe('exit:10/exit:0/reason');
    expect(vmxFailureSignature(cmp({ kind: 'exit', reason: 10, qualification: 0n }, { kind: 'crash', detail: 'hang' }, ['kind']))).toBe('exit/crash/kind');
  });
});
