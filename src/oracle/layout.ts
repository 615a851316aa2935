// The harnesses' guest-physical layout, read from harness/layout.inc so nasm and TypeScript share
// one definition.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HARNESS_DIR = fileURLToPath(new URL('./harness/', import.meta.url));

function parseLayout(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)\s+equ\s+(0x[0-9A-Fa-f]+|\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const L = parseLayout(readFileSync(`${HARNESS_DIR}layout.inc`, 'utf8'));
function need(name: string): number {
  const v = L[name];
  if (v === undefined) throw new Error(`oracle: harness/layout.inc lacks ${name}`);
  return v;
}

export const LAYOUT = {
  HARNESS_BASE: need('HARNESS_BASE'),
  STACK_TOP: need('STACK_TOP'),
  CPUID_DUMP: need('CPUID_DUMP'),
  DISK_DIR: need('DISK_DIR'),
  BOOTED_FLAG: need('BOOTED_FLAG'),
  VMX_CAPS: need('VMX_CAPS'),
  HOST_IDT: need('HOST_IDT'),
  HOST_TSS: need('HOST_TSS'),
  HOST_PML4: need('HOST_PML4'),
  HOST_GDT: need('HOST_GDT'),
  HOST_TR_SEL: need('HOST_TR_SEL'),
  HOST_CR0_VMX: need('HOST_CR0_VMX'),
  HOST_CR4_VMX: need('HOST_CR4_VMX'),
  HOST_EFER_VMX: need('HOST_EFER_VMX'),
  VMX_HOST_RIP: need('VMX_HOST_RIP'),
  HSAVE_PA: need('HSAVE_PA'),
  VMCS_PA: need('VMCS_PA'),
  IOPM_PA: need('IOPM_PA'),
  MSRPM_PA: need('MSRPM_PA'),
  GUEST_CODE: need('GUEST_CODE'),
  GUEST_PD32: need('GUEST_PD32'),
  GUEST_PT32: need('GUEST_PT32'),
  GUEST_GDT: need('GUEST_GDT'),
  GUEST_IDT64: need('GUEST_IDT64'),
  GUEST_IDT32: need('GUEST_IDT32'),
  GUEST_STACK: need('GUEST_STACK'),
  NPT_SETS: need('NPT_SETS'),
  EPT_PML4: need('EPT_PML4'),
  INPUT_HDR: need('INPUT_HDR'),
  INPUT_MAGIC: need('INPUT_MAGIC'),
  DISK_MAGIC: need('DISK_MAGIC'),
  RECORDS: need('RECORDS'),
  MAX_STATES: need('MAX_STATES'),
  RAM_MB: need('RAM_MB'),
  REC_EXIT: need('REC_EXIT'),
  REC_HOST_EXC: need('REC_HOST_EXC'),
  REC_END: need('REC_END'),
  REC_VMFAIL_VALID: need('REC_VMFAIL_VALID'),
  REC_VMFAIL_INVALID: need('REC_VMFAIL_INVALID'),
} as const;

/** Bytes per output record. */
export const RECORD_SIZE = 64;

/** The CPUID leaves the harness dumps at CPUID_DUMP, in order (harness/svm.asm cpuid_leaves). */
export const CPUID_LEAVES = [0x1, 0x7, 0x80000001, 0x80000008, 0x8000000a] as const;

/** The capability MSRs harness/vmx.asm dumps at VMX_CAPS and prints as "@NF M", in order (0x480..0x490). */
export const VMX_CAP_MSRS = Array.from({ length: 0x11 }, (_, k) => 0x480 + k);

/** State i's page: the VMCB (SVM) or the VMCS12 field list (VMX). */
export function statePage(i: number): number {
  return LAYOUT.INPUT_HDR + (i + 1) * 0x1000;
}

/** The top of the emulated machine's RAM (one memslot from 0 in the engine's L1). */
export const RAM_BYTES_GPA_TOP = BigInt(LAYOUT.RAM_MB) * 2n ** 20n;
