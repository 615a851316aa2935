// One vocabulary for what L1 sees after VMRUN, whoever computed it: the engine's run result or an
// emulator's VMCB page. The comparison looks at the fields the APM defines for the exit taken,
// never at save-area fields after VMEXIT_INVALID (oracle.md §3.3: QEMU overwrites them with partly
// loaded state, and the APM leaves them undefined).

import { svmExitName } from '../../arch/svm/exit_codes.ts';
import type { SvmRunResult } from '../../engine/svm/run.ts';
import type { RawOutcome } from '../raw.ts';

export type SvmVerdict =
  | { kind: 'invalid'; exit_code: bigint }
  | { kind: 'exit'; exit_code: bigint; exit_info_1: bigint; exit_info_2: bigint; exit_int_info: bigint }
  /** VMRUN raised an exception in L1 (#GP, #UD). */
  | { kind: 'host-exception'; vector: number }
  /** L2 entered and never exited (the harness would hang): the engine's l2-running/l2-halted. */
  | { kind: 'no-exit'; detail: string }
  /** The emulator crashed, reset or hung on this state. */
  | { kind: 'crash'; detail: string }
  /** An engine outcome with no hardware counterpart (KVM exits to userspace, ...). */
  | { kind: 'kvm-only'; detail: string };

/** Every verdict kind, for reading verdicts back from corpus files. */
export const SVM_VERDICT_KINDS = ['invalid', 'exit', 'host-exception', 'no-exit', 'crash', 'kvm-only'] as const satisfies readonly SvmVerdict['kind'][];

const u32 = (v: bigint): bigint => v & 0xffffffffn;
const INVALID_LOW32 = 0xffffffffn;

// EXITINTINFO without its V bit (bit 31) carries no information (APM 15.7.2): it reads as 0.
function exitInfo(c: { exit_code: bigint; exit_info_1: bigint; exit_info_2: bigint; exit_int_info: number; exit_int_info_err: number }): SvmVerdict {
  if (u32(c.exit_code) === INVALID_LOW32) return { kind: 'invalid', exit_code: c.exit_code };
  return { kind: 'exit', exit_code: c.exit_code, exit_info_1: c.exit_info_1, exit_info_2: c.exit_info_2, exit_int_info: c.exit_int_info & 0x80000000 ? BigInt(c.exit_int_info >>> 0) | (BigInt(c.exit_int_info_err >>> 0) << 32n) : 0n };
}

export function engineSvmVerdict(r: SvmRunResult): SvmVerdict {
  if (r.outcome === '#UD') return { kind: 'host-exception', vector: 6 };
  if (r.outcome === '#GP') return { kind: 'host-exception', vector: 13 };
  const v12 = r.after.vmcb12;
  if (r.outcome === 'vmexit-invalid') return { kind: 'invalid', exit_code: v12?.control.exit_code ?? -1n };
  if (r.outcome === 'entered') {
    if (r.l2_exit_code === null || !v12) return { kind: 'no-exit', detail: r.l2?.outcome ?? 'entered' };
    return exitInfo(v12.control);
  }
  return { kind: 'kvm-only', detail: r.outcome };
}

export function emulatorSvmVerdict(o: RawOutcome): SvmVerdict {
  if (o.kind === 'crash') return { kind: 'crash', detail: o.detail };
  if (o.kind === 'host-exception') return { kind: 'host-exception', vector: o.vector };
  return exitInfo(o.exit);
}

const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
const EXIT_NPF = 0x400n;
const EXIT_IOIO = 0x7bn;
const EXIT_MSR = 0x7cn;
const EXIT_EXCP_BASE = 0x40n;

/** The fields the APM defines for an exit (APM 15.7.2 / 15.12 / 15.25.6 / 15.10). */
export function definedFields(code: bigint): ('exit_info_1' | 'exit_info_2')[] {
  if (code === EXIT_NPF || code === EXIT_IOIO) return ['exit_info_1', 'exit_info_2'];
  if (code === EXIT_MSR) return ['exit_info_1'];
  if (code >= EXIT_EXCP_BASE && code < EXIT_EXCP_BASE + 32n) {
    const vec = Number(code - EXIT_EXCP_BASE);
    if (vec === 14) return ['exit_info_1', 'exit_info_2'];
    return ERROR_CODE_VECTORS.has(vec) ? ['exit_info_1'] : [];
  }
  return [];
}

/** Where two verdicts differ: one entry per differing field, empty when they agree. */
export function diffSvmVerdicts(engine: SvmVerdict, emu: SvmVerdict): string[] {
  if (engine.kind !== emu.kind) return ['kind'];
  if (engine.kind === 'invalid' && emu.kind === 'invalid') return engine.exit_code === emu.exit_code ? [] : ['exit_code'];
  if (engine.kind === 'host-exception' && emu.kind === 'host-exception') return engine.vector === emu.vector ? [] : ['vector'];
  if (engine.kind === 'exit' && emu.kind === 'exit') {
    if (engine.exit_code !== emu.exit_code) return ['exit_code'];
    const out: string[] = [];
    for (const f of definedFields(engine.exit_code)) if (engine[f] !== emu[f]) out.push(f);
    if (engine.exit_int_info !== emu.exit_int_info) out.push('exit_int_info');
    return out;
  }
  return [];
}

export function describeSvmVerdict(v: SvmVerdict): string {
  const h = (x: bigint): string => `0x${x.toString(16)}`;
  switch (v.kind) {
    case 'invalid':
      return `VMEXIT_INVALID (exit_code ${h(v.exit_code)})`;
    case 'exit':
      return `#VMEXIT ${svmExitName(v.exit_code)} (${h(v.exit_code)}) exit_info_1 ${h(v.exit_info_1)} exit_info_2 ${h(v.exit_info_2)} exit_int_info ${h(v.exit_int_info)}`;
    case 'host-exception':
      return `VMRUN raised vector ${v.vector} in L1`;
    default:
      return `${v.kind}: ${v.detail}`;
  }
}
