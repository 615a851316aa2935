// "A VMfail changes nothing but the flags, RIP and (VMfailValid) the VM-instruction error field"
// (SDM vol.3C §31.2 "Conventions": VMfailInvalid sets CF and clears PF/AF/ZF/SF/OF, VMfailValid
// sets ZF and clears CF/PF/AF/SF/OF and writes VM_INSTRUCTION_ERROR; the instruction completes, so
// RIP moves past it and a single-step trap is taken). Early VMfails (nested_vmx_failValid in
// nested_vmx_run) and late ones (nested_vmx_vmexit with vmx->fail: nested_vmx_restore_host_state)
// alike: no MSR written, no launch-state, memory, VMX-operation, guest-mode or timer change.

import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { VMFAIL_DEVIATIONS } from './_data/known.ts';
import { diffPaths, in64BitMode, show, U64 } from './_lib.ts';

const CF = 1n << 0n, PF = 1n << 2n, AF = 1n << 4n, ZF = 1n << 6n, SF = 1n << 7n, OF = 1n << 11n;
const ARITH = CF | PF | AF | ZF | SF | OF;
const TF = 1n << 8n;
const DR6_BS = 1n << 14n;

/** Where a VMfail result departs from the SDM's "flags, RIP, error field only"; [] when it does not. */
export function vmfailSideEffects(r: VmxRunResult): { path: string; expected?: string; got?: string }[] {
  const b = r.before, a = r.after;
  const invalid = r.outcome === 'vmfail-invalid';
  const out: { path: string; expected?: string; got?: string }[] = [];
  const expect = (path: string, want: unknown, got: unknown): void => {
    if (want !== got) out.push({ path, expected: show(want), got: show(got) });
  };

  // RFLAGS: the arithmetic flags as the convention says, every other bit unchanged.
  const rflags = (U64(b.l1.rflags) & ~ARITH) | (invalid ? CF : ZF);
  expect('l1.rflags', rflags, U64(a.l1.rflags));
  // RIP past the 3-byte instruction, wrapping at 32 bits outside 64-bit mode.
  expect('l1.rip', BigInt.asUintN(in64BitMode(b.l1) ? 64 : 32, U64(b.l1.rip) + 3n), U64(a.l1.rip));
  // RFLAGS.TF: the single-step #DB (DR6.BS) is queued; DR6 gets BS as the trap is delivered.
  const tf = (U64(b.l1.rflags) & TF) !== 0n;
  if (tf) {
    expect('exception', show({ vector: 1, payload: DR6_BS }), show(a.exception));
    expect('l1.dr6', (U64(b.l1.dr6) & ~0xfn) | 0xffff0ff0n | DR6_BS, U64(a.l1.dr6));
  } else {
    expect('exception', show(b.exception), show(a.exception));
  }
  // Every other L1 register unchanged.
  const { rflags: _1, rip: _2, dr6: _3, ...restB } = b.l1;
  const { rflags: _4, rip: _5, dr6: _6, ...restA } = a.l1;
  for (const p of diffPaths(restB, restA)) out.push({ path: `l1.${p}` });
  // vmcs12: only VM_INSTRUCTION_ERROR, and only for VMfailValid.
  if (!invalid) expect('vmcs12.vm_instruction_error', r.vm_instruction_error, a.vmcs12.vm_instruction_error);
  const { vm_instruction_error: _7, ...vB } = b.vmcs12;
  const { vm_instruction_error: _8, ...vA } = a.vmcs12;
  if (invalid) expect('vmcs12.vm_instruction_error', b.vmcs12.vm_instruction_error, a.vmcs12.vm_instruction_error);
  for (const p of diffPaths(vB, vA)) out.push({ path: `vmcs12.${p}` });
  expect('launch_state', b.launch_state, a.launch_state);
  expect('vmxon', b.vmxon, a.vmxon);
  expect('guest_mode', b.guest_mode, a.guest_mode);
  expect('timer_armed', false, a.timer_armed);
  expect('triple_fault', false, a.triple_fault);
  for (const p of diffPaths(b.mem, a.mem)) out.push({ path: `mem.${p}` });
  if (r.msr_writes.length) out.push({ path: 'msr_writes', expected: '[]', got: r.msr_writes.map((w) => `${w.list}:0x${w.index.toString(16)}`).join(',') });
  return out;
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmfail-no-side-effects',
  area: 'vmx',
  title: 'a VMfail of VMLAUNCH/VMRESUME changes only RFLAGS, RIP, VM_INSTRUCTION_ERROR (and the single-step #DB)',
  rationale: 'SDM vol.3C §31.2 (VMfailInvalid / VMfailValid conventions), §31.3 VMLAUNCH; KVM nested.c nested_vmx_failValid / nested_vmx_failInvalid, nested_vmx_vmexit (vmx->fail) and nested_vmx_restore_host_state; spec vmx-mmu.md §2.1, §6 #16',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    // The convention is VMLAUNCH/VMRESUME's; after KVM_SET_NESTED_STATE no instruction of L1 is in flight.
    if (c.scenario.path === 'set-nested-state') return HOLDS;
    const r = runVmx(c.scenario, ctx.profile);
    if (r.outcome !== 'vmfail-invalid' && r.outcome !== 'vmfail-valid') return HOLDS;
    let diffs = vmfailSideEffects(r);
    // Listed: a late VMfail for a rule KVM leaves to the CPU keeps the VM-entry MSR-load list's writes.
    const listed = VMFAIL_DEVIATIONS['late-vmfail-keeps-entry-msr-loads'];
    if (!ctx.strictArch && r.late_vmfail && r.hardware?.owner === 'hardware') {
      // …and nested_vmx_restore_host_state's own writes (and a VMX abort there) are listed too.
      const entryIdx = new Set(r.msr_writes.filter((w) => w.list === 'entry-load' || w.list === 'restore').map((w) => '0x' + w.index.toString(16)));
      const fieldOf: Record<string, string> = { '0x174': 'sysenter_cs', '0x175': 'sysenter_esp', '0x176': 'sysenter_eip', '0x277': 'pat', '0x1d9': 'debugctl', '0xd90': 'bndcfgs', '0x38f': 'perf_global_ctrl', '0xc0000080': 'efer' };
      const aborted = r.trace.events.some((e) => e.ev === 'nested_vmx_abort');
      const excused = new Set(['msr_writes', ...(aborted ? ['triple_fault'] : []), ...[...entryIdx].flatMap((k) => [`l1.msrs.${k}`, fieldOf[k] ? `l1.${fieldOf[k]}` : ''])]);
      diffs = diffs.filter((d) => !excused.has(d.path));
    }
    if (diffs.length) {
      const d = diffs[0];
      return fail('vmfail-side-effect', `${r.late_vmfail ? 'late ' : ''}${r.outcome}${r.vm_instruction_error !== null ? ` (${r.vm_instruction_error})` : ''} changed ${diffs.map((x) => x.path).join(', ')}${d.expected !== undefined ? ` (first: expected ${d.expected}, got ${d.got})` : ''}`, { diffs, late: r.late_vmfail, listed: r.late_vmfail && r.hardware?.owner === 'hardware' ? listed.id : null });
    }
    return HOLDS;
  },
};
