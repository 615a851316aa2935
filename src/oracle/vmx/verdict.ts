// One vocabulary for how VMLAUNCH ended, whoever computed it: the engine's run result or the
// harness's record. SDM 31.2 (VMfailInvalid / VMfailValid with the VM-instruction error), 27.8
// (VM-entry failure: exit reason 33/34 with bit 31 and the qualification), 28 (a VM exit from L2:
// reason and qualification). Nothing is compared that the SDM leaves undefined for the outcome.

import { EXIT_REASON } from '../../arch/vmx/exit_reasons.ts';
import type { VmxRunResult } from '../../engine/vmx/result.ts';
import type { VmxRawOutcome } from '../raw.ts';

export type VmxVerdict =
  | { kind: 'vmfail-invalid' }
  | { kind: 'vmfail-valid'; error: number }
  /** Exit reason with bit 31 (33 invalid guest state, 34 MSR loading, ...) and its qualification. */
  | { kind: 'entry-failure'; reason: number; qualification: bigint }
  | { kind: 'exit'; reason: number; qualification: bigint }
  | { kind: 'host-exception'; vector: number }
  /** The harness could not write the state: this CPU model has no such field (emulator only). */
  | { kind: 'vmwrite-failed'; encoding: number; error: number }
  /** L2 entered and never exited (the harness would hang). */
  | { kind: 'no-exit'; detail: string }
  | { kind: 'crash'; detail: string }
  /** An engine outcome with no hardware counterpart (KVM exits to userspace, ...). */
  | { kind: 'kvm-only'; detail: string };

/** Every verdict kind, for reading verdicts back from corpus files. */
export const VMX_VERDICT_KINDS = [
  'vmfail-invalid', 'vmfail-valid', 'entry-failure', 'exit', 'host-exception', 'vmwrite-failed', 'no-exit', 'crash', 'kvm-only',
] as const satisfies readonly VmxVerdict['kind'][];

const ENTRY_FAILURE = 0x80000000;

function exitVerdict(reason: number, qualification: bigint): VmxVerdict {
  const r = reason >>> 0;
  if ((r & ENTRY_FAILURE) !== 0) return { kind: 'entry-failure', reason: r, qualification };
  return { kind: 'exit', reason: r, qualification };
}

export function engineVmxVerdict(r: VmxRunResult): VmxVerdict {
  switch (r.outcome) {
    case '#UD':
      return { kind: 'host-exception', vector: 6 };
    case '#GP':
      return { kind: 'host-exception', vector: 13 };
    case 'vmfail-invalid':
      return { kind: 'vmfail-invalid' };
    case 'vmfail-valid':
      return { kind: 'vmfail-valid', error: r.vm_instruction_error ?? -1 };
    case 'entry-failure':
      return exitVerdict(r.exit_reason ?? 0, r.exit_qualification ?? 0n);
    case 'entered':
      if (r.l2_exit === null) return { kind: 'no-exit', detail: r.l2_event ?? 'entered' };
      return exitVerdict(r.l2_exit.reason, r.l2_exit.qualification);
    default:
      return { kind: 'kvm-only', detail: r.outcome };
  }
}

export function emulatorVmxVerdict(o: VmxRawOutcome): VmxVerdict {
  switch (o.kind) {
    case 'crash':
      return { kind: 'crash', detail: o.detail };
    case 'host-exception':
      return { kind: 'host-exception', vector: o.vector };
    case 'vmfail-invalid':
      return { kind: 'vmfail-invalid' };
    case 'vmfail-valid':
      if (o.failed.insn === 'vmwrite') return { kind: 'vmwrite-failed', encoding: o.failed.encoding, error: o.error };
      return { kind: 'vmfail-valid', error: o.error };
    case 'exit':
      return exitVerdict(o.exit.exit_reason, o.exit.exit_qualification);
  }
}

/** Exit reasons whose qualification the SDM defines (28.2.1); others are compared by reason only. */
const QUALIFIED = new Set<number>([
  EXIT_REASON.EXCEPTION_NMI, EXIT_REASON.CR_ACCESS, EXIT_REASON.DR_ACCESS, EXIT_REASON.IO_INSTRUCTION,
  EXIT_REASON.EPT_VIOLATION, EXIT_REASON.INVALID_STATE, EXIT_REASON.MSR_LOAD_FAIL,
]);

/** Where two verdicts differ: one entry per differing field, empty when they agree. */
export function diffVmxVerdicts(engine: VmxVerdict, emu: VmxVerdict): string[] {
  if (engine.kind !== emu.kind) return ['kind'];
  if (engine.kind === 'vmfail-valid' && emu.kind === 'vmfail-valid') return engine.error === emu.error ? [] : ['error'];
  if (engine.kind === 'host-exception' && emu.kind === 'host-exception') return engine.vector === emu.vector ? [] : ['vector'];
  if ((engine.kind === 'exit' || engine.kind === 'entry-failure') && (emu.kind === 'exit' || emu.kind === 'entry-failure')) {
    if (engine.reason !== emu.reason) return ['reason'];
    const basic = engine.reason & 0xffff;
    return QUALIFIED.has(basic) && engine.qualification !== emu.qualification ? ['qualification'] : [];
  }
  return [];
}

export function describeVmxVerdict(v: VmxVerdict): string {
  const h = (x: bigint | number): string => `0x${x.toString(16)}`;
  switch (v.kind) {
    case 'vmfail-invalid':
      return 'VMfailInvalid';
    case 'vmfail-valid':
      return `VMfailValid(${v.error})`;
    case 'entry-failure':
      return `VM-entry failure, exit reason ${h(v.reason)} qualification ${h(v.qualification)}`;
    case 'exit':
      return `VM exit ${v.reason} qualification ${h(v.qualification)}`;
    case 'host-exception':
      return `VMLAUNCH raised vector ${v.vector} in L1`;
    case 'vmwrite-failed':
      return `VMWRITE ${h(v.encoding)} failed with VMfailValid(${v.error})`;
    default:
      return `${v.kind}: ${v.detail}`;
  }
}
