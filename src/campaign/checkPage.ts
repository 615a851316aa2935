// `check --vmcb`: one raw VMCB page (APM vol. 2 Appendix B layout) through the engine, as the
// vmcb12 L1 hands to VMRUN at its rAX. The verdict vocabulary is the one the oracles use, so the
// same page can be run on QEMU/Bochs and compared line by line.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeVmcb } from '../arch/svm/codec.ts';
import { VMCB_PAGE_SIZE } from '../arch/svm/layout.ts';
import { defaultL1 } from '../arbitraries/_internals/builders/defaultL1.ts';
import type { Profile } from '../engine/profiles.ts';
import { run, type Outcome } from '../engine/svm/run.ts';
import type { L1State, SvmScenario } from '../engine/svm/scenario.ts';
import { NestfuzzError, oneLine } from './errors.ts';

export interface PageVerdict {
  outcome: Outcome;
  /**
   * vmexit-invalid: vmcb12.control.exit_code as L1 reads it afterwards; entered: L2's first exit
   * code to L1 (null if L2 did not exit); otherwise null. Hex, "0x…".
   */
  exit_code: string | null;
  /** Ids of the consistency checks that failed, in evaluation order. */
  failed_checks: string[];
  /** GIF after the entry path. */
  gif: number;
}

function hex(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

/** Run one page; `page` must be exactly 4096 bytes (the caller reports anything else). */
export function checkVmcbPage(page: Uint8Array, profile: Profile, l1: L1State = defaultL1()): PageVerdict {
  const scenario: SvmScenario = {
    arch: 'svm', entry: 'vmrun', l1, vmcb12: decodeVmcb(page), l2: [], race: null, smm: null, nested_state: null,
  };
  const r = run(scenario, profile);
  let exit: bigint | null = null;
  if (r.outcome === 'vmexit-invalid') exit = r.after.vmcb12?.control.exit_code ?? null;
  else if (r.outcome === 'entered') exit = r.l2_exit_code;
  return { outcome: r.outcome, exit_code: exit === null ? null : hex(exit), failed_checks: r.trace.failedChecks(), gif: r.after.gif };
}

function readPage(file: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${file} (${oneLine(e)})`, 'pass a readable 4096-byte VMCB page or a directory of *.bin pages');
  }
  if (bytes.byteLength !== VMCB_PAGE_SIZE) {
    throw new NestfuzzError(
      'NESTFUZZ_BAD_INPUT',
      `${file} is ${bytes.byteLength} bytes, a VMCB page is exactly ${VMCB_PAGE_SIZE}`,
      'pass the raw 4 KiB page in APM vol. 2 Appendix B layout',
    );
  }
  return bytes;
}

export interface VmcbPages {
  /** `target` was a directory (output lines then carry a "file" key). */
  directory: boolean;
  pages: Array<{ file: string; page: Uint8Array }>;
}

/** The pages `--vmcb` names: the file itself, or every *.bin in the directory (sorted), each read and size-checked. */
export function readVmcbPages(target: string): VmcbPages {
  let isDir: boolean;
  try {
    isDir = statSync(target).isDirectory();
  } catch (e) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `cannot read ${target} (${oneLine(e)})`, 'pass a 4096-byte VMCB page or a directory of *.bin pages');
  }
  if (!isDir) return { directory: false, pages: [{ file: basename(target), page: readPage(target) }] };
  const names = readdirSync(target).filter((n) => n.endsWith('.bin')).sort();
  if (names.length === 0) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${target} has no *.bin files`, 'put raw 4096-byte VMCB pages named *.bin in the directory');
  return { directory: true, pages: names.map((n) => ({ file: n, page: readPage(join(target, n)) })) };
}
