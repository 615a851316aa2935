// L2 instruction streams: routing of every instruction to L1 or L0, the PFEC mask/match rule,
// page-crossing accesses, and the headline case: an MMIO access emulated by L0 whose second page
// faults in L1's TDP, synthesized while vmcb02 / vmcs02 still hold the MMIO exit.

import { describe, expect, it } from 'vitest';
import { buildNestedFaultCase, DEFAULT_NESTED_FAULT_CHOICE, type NestedFaultChoice } from '../../../src/arbitraries/nestedFault.ts';
import { NO_INTERCEPTS, type L1ControlChoice, type L2OpChoice } from '../../../src/arbitraries/l2program.ts';
import type { L1Controls, L2Op } from '../../../src/engine/emulate/l2_insn.ts';
import { accessPieces } from '../../../src/engine/emulate/l2_program.ts';
import { l1_wants_insn_exit, nested_vmx_is_page_fault_vmexit } from '../../../src/engine/emulate/routing.ts';
import { runNestedFault } from '../../../src/engine/mmu/nested_fault.ts';
import { PFERR } from '../../../src/engine/mmu/types.ts';
import { getProfile } from '../../../src/engine/profile_list.ts';
import type { Profile } from '../../../src/engine/profiles.ts';

const kvm = getProfile('kvm-next') as Profile;
const profile = (n: string): Profile => getProfile(n) as Profile;

function stream(flavour: 'svm' | 'vmx', ops: L2OpChoice[], l1: Partial<L1ControlChoice> = {}, muts: [string, number][] = [], extra: Partial<NestedFaultChoice> = {}, rspOffset = 0x800) {
  return buildNestedFaultCase({ ...DEFAULT_NESTED_FAULT_CHOICE, flavour, ...extra, program: { ops, l1: { ...NO_INTERCEPTS, ...l1 }, rspOffset } }, muts).scenario;
}

/** tdp-table-missing:3 removes the data page's L2 page table from L1's TDP (long4 layout: PML4, PDPT, PD, PT(data), PT(mmio)). */
const DATA_PT_MISSING: [string, number] = ['tdp-table-missing', 3];
const MMIO_CROSSING_STORE: L2OpChoice = { op: 'mov', store: true, size: 8, page: 'mmio', offset: 0xffc };

describe('L2 instruction streams', () => {
  it('splits an access at a page boundary', () => {
    expect(accessPieces(0x3ffffcn, 8)).toEqual([0x3ffffcn, 0x400000n]);
    expect(accessPieces(0x400ff8n, 8)).toEqual([0x400ff8n]);
  });

  it('routes intercepted instructions with their architectural exit codes (APM App. C, SDM App. C)', () => {
    const all: Partial<L1ControlChoice> = { ioBitmaps: true, msrBitmaps: true, io_ports: [0x60], msr_read: [0x10], msr_write: [0x10], cpuid: true, hlt: true, hypercall: true, invlpg: true, cr3_load: true };
    const ss = stream('svm', [], all);
    const vs = stream('vmx', [], all);
    const none = stream('vmx', [], { msrBitmaps: true }).program!.l1;
    const svm = (op: L2Op) => l1_wants_insn_exit('svm', op, ss.program!.l1, ss.mem, 0x1000n, 2)?.svm?.exit_code;
    const vmx = (op: L2Op, l1: L1Controls = vs.program!.l1) => l1_wants_insn_exit('vmx', op, l1, vs.mem, 0x1000n, 2)?.vmx?.reason;
    expect([svm({ op: 'cpuid' }), svm({ op: 'hlt' }), svm({ op: 'hypercall' }), svm({ op: 'invlpg', gva: 0n }), svm({ op: 'mov-cr3' }), svm({ op: 'in', port: 0x60, size: 1 }), svm({ op: 'rdmsr', msr: 0x10 })])
      .toEqual([0x72n, 0x78n, 0x81n, 0x79n, 0x13n, 0x7bn, 0x7cn]);
    expect([vmx({ op: 'cpuid' }), vmx({ op: 'hlt' }), vmx({ op: 'hypercall' }), vmx({ op: 'invlpg', gva: 0n }), vmx({ op: 'mov-cr3' }), vmx({ op: 'out', port: 0x60, size: 1 }), vmx({ op: 'wrmsr', msr: 0x10 })])
      .toEqual([10, 12, 18, 14, 28, 30, 32]);
    // VMX CPUID and VMCALL exit unconditionally (SDM §26.1.2); SVM only when intercepted.
    expect([vmx({ op: 'cpuid' }, none), vmx({ op: 'hypercall' }, none)]).toEqual([10, 18]);
    expect(l1_wants_insn_exit('svm', { op: 'cpuid' }, stream('svm', []).program!.l1, ss.mem, 0n, 2)).toBeNull();
    // A non-string OUT: port in 31:16, SZ8, no STR/REP; exit_info_2 = next RIP.
    expect(l1_wants_insn_exit('svm', { op: 'out', port: 0x60, size: 1 }, ss.program!.l1, ss.mem, 0x1000n, 1)?.svm).toEqual({ exit_code: 0x7bn, exit_info_1: 0x600010n, exit_info_2: 0x1001n });
  });

  it('reads L1\'s I/O permission bits for every port an access touches (APM §15.10.1, SDM §26.1.3)', () => {
    const io = (flavour: 'svm' | 'vmx', l1: Partial<L1ControlChoice>, port: number, size: 1 | 2 | 4, p = kvm) =>
      runNestedFault(stream(flavour, [{ op: 'out', port, size }], l1), p).steps[0].by;
    // A 4-byte OUT at 0x7ffe touches 0x7ffe-0x8001: the bit of 0x8000 (VMX bitmap B) intercepts it.
    expect(io('vmx', { ioBitmaps: true, io_ports: [0x8000] }, 0x7ffe, 4)).toBe('l1');
    expect(io('svm', { ioBitmaps: true, io_ports: [0x8000] }, 0x7ffe, 4)).toBe('l1');
    expect(io('vmx', { ioBitmaps: true, io_ports: [0x8000] }, 0x7ffe, 4, profile('mutant-io-bitmap-first-port'))).toBe('l0');
    // Wrapping past 0xffff: VMX exits whatever the bitmaps say; SVM's 12 KiB IOPM has bits there (clear).
    expect(io('vmx', { ioBitmaps: true }, 0xfffe, 4)).toBe('l1');
    expect(io('svm', { ioBitmaps: true }, 0xfffe, 4)).toBe('l0');
    expect(io('svm', { ioBitmaps: true, io_ports: [0xffff] }, 0xfffe, 4)).toBe('l1');
    // Without bitmaps: SVM never reflects; VMX by unconditional I/O exiting.
    expect(io('svm', { ioBitmaps: false, io_ports: [0x60] }, 0x60, 1)).toBe('l0');
    expect(io('vmx', { ioBitmaps: false, ioUncond: true }, 0x60, 1)).toBe('l1');
  });

  it('reads L1\'s MSR permission map; MSRs outside its ranges always exit (APM §15.11, SDM §25.6.9)', () => {
    const msr = (flavour: 'svm' | 'vmx', l1: Partial<L1ControlChoice>, index: number) => {
      const r = runNestedFault(stream(flavour, [{ op: 'rdmsr', msr: index }], l1), kvm);
      return `${r.steps[0].by}${r.steps[0].exception ? `#${r.steps[0].exception.vector}` : ''}`;
    };
    expect([msr('svm', { msrBitmaps: true }, 0x12345), msr('svm', { msrBitmaps: false }, 0x12345)]).toEqual(['l1', 'l0#13']);
    expect([msr('svm', { msrBitmaps: true }, 0xc0010000), msr('vmx', { msrBitmaps: true }, 0xc0010000)]).toEqual(['l0#13', 'l1']);
    expect([msr('vmx', { msrBitmaps: true, msr_read: [0x174] }, 0x174), msr('vmx', { msrBitmaps: true, msr_write: [0x174] }, 0x174)]).toEqual(['l1', 'l0']);
    expect(msr('vmx', { msrBitmaps: false }, 0x10)).toBe('l1');
  });

  it('applies SDM §25.2\'s PFEC rule: bit 14 set exits on a match, clear exits on a mismatch', () => {
    const base = stream('vmx', []).program!.l1;
    const c = (bitmap: number, mask: number, match: number): L1Controls => ({ ...base, exception_bitmap: bitmap, pfec_mask: mask, pfec_match: match });
    expect(nested_vmx_is_page_fault_vmexit(c(1 << 14, 0, 0), 2n)).toBe(true);
    expect(nested_vmx_is_page_fault_vmexit(c(0, 0, 0), 2n)).toBe(false);
    expect(nested_vmx_is_page_fault_vmexit(c(1 << 14, 2, 2), 0n)).toBe(false);
    expect(nested_vmx_is_page_fault_vmexit(c(0, 2, 2), 0n)).toBe(true);
    // Only the low 16 bits are compared (KVM passes a u16).
    expect(nested_vmx_is_page_fault_vmexit(c(1 << 14, 0xffff, 0), 1n << 32n)).toBe(true);
  });

  it('an MMIO store crossing into a page whose L2 table L1\'s NPT misses: a synthesized GUEST_PAGE #NPF at the table GPA, not the MMIO address', () => {
    const s = stream('svm', [MMIO_CROSSING_STORE], {}, [DATA_PT_MISSING]);
    const r = runNestedFault(s, kvm);
    expect(r.steps.map((x) => x.by)).toEqual(['emulator']);
    expect(r.injected_from_hardware).toBe(false);
    // vmcb02 holds L0's MMIO #NPF for the first page (FINAL, user, write, at the MMIO GPA).
    expect(r.exit02_at_injection?.svm).toEqual({ exit_code: 0x400n, exit_info_1: PFERR.GUEST_FINAL | PFERR.USER | PFERR.WRITE, exit_info_2: 0x2ffffcn });
    expect(r.injected_svm).toEqual({ exit_code: 0x400n, exit_info_1: PFERR.GUEST_PAGE | PFERR.USER | PFERR.WRITE, exit_info_2: 0x203000n });
    // Before 297c2fe249db / fe0b872d7500 KVM kept the MMIO #NPF's stage and address.
    const old = runNestedFault(s, profile('npf-stage-hardcoded'));
    expect(old.injected_svm).toEqual({ exit_code: 0x400n, exit_info_1: PFERR.GUEST_FINAL | PFERR.USER | PFERR.WRITE, exit_info_2: 0x2ffffcn });
  });

  it('the VMX twin: GVA_TRANSLATED clear for the table access, where the stale MMIO EPT violation had it set', () => {
    const s = stream('vmx', [MMIO_CROSSING_STORE], {}, [DATA_PT_MISSING]);
    const r = runNestedFault(s, kvm);
    expect(r.exit02_at_injection?.vmx.qual).toBe(0x182n);
    expect(r.injected_vmx?.reason).toBe(48);
    expect(r.injected_vmx!.qual & 0x180n).toBe(0x80n);
    const old = runNestedFault(s, profile('ept-gva-bits-stale'));
    expect(old.injected_vmx!.qual & 0x180n).toBe(0x180n);
  });

  it('a fault the CPU finds on the second page of a crossing access is reflected from hardware', () => {
    const s = stream('svm', [{ op: 'mov', store: false, size: 4, page: 'data', offset: 0xffe }], {}, [['tdp-final-missing', 0]]);
    const r = runNestedFault(s, kvm);
    // The data page's final translation is missing: the first piece already faults.
    expect([r.outcome, r.injected_from_hardware, r.injected_svm?.exit_info_2]).toEqual(['nested-exit', true, 0x300ffen]);
  });

  it('an L2 #PF goes to L2 unless L1 intercepts it; the stream goes on after L2 handles it', () => {
    const ops: L2OpChoice[] = [{ op: 'mov', store: false, size: 1, page: 'data', offset: 0 }, { op: 'cpuid' }];
    const toL2 = runNestedFault(stream('vmx', ops, {}, [['guest-leaf-missing', 0]]), kvm);
    expect(toL2.steps.map((x) => `${x.op}:${x.by}`)).toEqual(['mov:cpu', 'cpuid:l1']);
    expect(toL2.steps[0].exception?.vector).toBe(14);
    const toL1 = runNestedFault(stream('vmx', ops, { exception_bitmap: 1 << 14 }, [['guest-leaf-missing', 0]]), kvm);
    expect([toL1.outcome, toL1.l1_exit?.vmx?.reason, toL1.l1_exit?.vmx?.qual, toL1.steps.length]).toEqual(['l1-exit', 0, 0x400000n, 1]);
  });

  it('SVM VMMCALL that L1 does not intercept raises #UD in L2 (or #VMEXIT(0x46) when L1 intercepts #UD)', () => {
    const r = runNestedFault(stream('svm', [{ op: 'hypercall' }]), kvm);
    expect(r.steps[0]).toMatchObject({ by: 'l0', exception: { vector: 6 } });
    const ud = runNestedFault(stream('svm', [{ op: 'hypercall' }], { exception_bitmap: 1 << 6 }), kvm);
    expect(ud.l1_exit?.svm?.exit_code).toBe(0x46n);
  });

  it('an unknown MSR raises #GP; HLT ends the stream; L0\'s port I/O leaves its IOIO exit in vmcb02', () => {
    const r = runNestedFault(stream('svm', [{ op: 'rdmsr', msr: 0x12345 }, { op: 'out', port: 0x60, size: 1 }, { op: 'hlt' }, { op: 'cpuid' }]), kvm);
    expect(r.steps.map((x) => `${x.op}:${x.by}:${x.exception?.vector ?? ''}`)).toEqual(['rdmsr:l0:13', 'out:l0:', 'hlt:l0:']);
    expect(r.outcome).toBe('l2-halted');
  });

  it('a REP OUTS L0 emulates walks DS:RSI per iteration, downwards with DF; L1 intercepting the port stops it (CVE-2020-2732)', () => {
    const outs: L2OpChoice = { op: 'outs', port: 0x1f0, size: 2, rep: 3, df: true, page: 'data', offset: 0x10 };
    const r = runNestedFault(stream('svm', [outs]), kvm);
    expect(r.steps[0].emulated).toEqual([0x400010n, 0x40000en, 0x40000cn]);
    const k = runNestedFault(stream('svm', [outs], { ioBitmaps: true, io_ports: [0x1f0] }), kvm);
    expect([k.outcome, k.emulated.length, k.steps.length]).toEqual(['l1-io-exit', 0, 1]);
    const bug = runNestedFault(stream('svm', [outs], { ioBitmaps: true, io_ports: [0x1f0] }), profile('cve-2020-2732'));
    expect(bug.steps.map((x) => x.by)).toEqual(['l1', 'emulator']);
  });

  it('PUSH and POP use the stack width and move RSP only when they complete', () => {
    // RSP at the bottom of the data page: PUSH writes 8 bytes below it, in the MMIO page (emulated
    // by L0), POP reads them back, the next POP reads the data page. In 32-bit paging the width is 4.
    const r = runNestedFault(stream('svm', [{ op: 'push' }, { op: 'pop' }, { op: 'pop' }], {}, [], {}, 0), kvm);
    expect(r.steps.map((x) => `${x.by}:${x.emulated.map((a) => a.toString(16)).join(',')}`)).toEqual(['emulator:3ffff8', 'emulator:3ffff8', 'cpu:']);
    const r32 = runNestedFault(stream('svm', [{ op: 'push' }], {}, [], { format: '32' }, 0), kvm);
    expect(r32.steps[0].emulated).toEqual([0x3ffffcn]);
  });
});
