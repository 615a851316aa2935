// The valid base of an oracle SVM state: L1 is the harness (64-bit, identity-mapped, EFER.SVME,
// VM_HSAVE_PA set) on the emulated CPU, and vmcb12 runs one of the harness's L2 code snippets in a
// 64-bit, 32-bit paged or unpaged guest, optionally under the identity NPT. Every address in the
// VMCB is one the harness prepared (src/oracle/harness/layout.inc), so the emulator runs exactly
// the state the engine judges.

import { CR0, CR4, EFER, INTERCEPT, INT_CTL, MISC_CTL, PAT_DEFAULT, DR6_ACTIVE_LOW, DR7_FIXED_1, setIntercept } from '../../../arch/svm/defs.ts';
import { zeroVmcb, type Vmcb } from '../../../arch/svm/vmcb.ts';
import type { L2Insn, SvmScenario } from '../../../engine/svm/scenario.ts';
import type { OracleCpu } from '../../../oracle/cpu.ts';
import { GUEST_SEL, nptVariantRoot, snippetIdt, snippetRip, type GuestSnippet, type NptVariant } from '../../../oracle/image.ts';
import { LAYOUT, RAM_BYTES_GPA_TOP, statePage } from '../../../oracle/layout.ts';
import { defaultL1 } from './defaultL1.ts';

export const ORACLE_SVM_MODES = ['long64', 'legacy32', 'unpaged32'] as const;
export type OracleSvmMode = (typeof ORACLE_SVM_MODES)[number];

export interface OracleSvmChoice {
  mode: OracleSvmMode;
  /** vmcb12 enables nested paging (nCR3 = the harness's identity tables). */
  np: boolean;
  snippet: GuestSnippet;
  /** With np: L1's NPT for L2, the identity map or a variant with one page changed (image.ts NPT_VARIANTS). */
  npt?: 'identity' | NptVariant;
}

export const DEFAULT_ORACLE_SVM_CHOICE: Required<OracleSvmChoice> = { mode: 'long64', np: true, snippet: 'vmmcall', npt: 'identity' };

/** The harness's L1 state when it executes VMRUN (harness/svm.asm start32/long64). */
export const HARNESS_L1 = {
  efer: EFER.LME | EFER.LMA | EFER.SVME,
  cr0: CR0.PG | CR0.WP | CR0.NE | CR0.ET | CR0.PE,
  cr4: CR4.PAE | CR4.OSFXSR,
  cs_attrib: 0xa9b,
} as const;

/** The engine's L2 program for each snippet (image.ts GUEST_SNIPPETS holds the bytes). */
export const SNIPPET_PROGRAM: Record<GuestSnippet, L2Insn[]> = {
  vmmcall: [{ op: 'vmmcall' }],
  hlt: [{ op: 'hlt' }],
  cpuid: [{ op: 'cpuid' }],
  ud2: [{ op: 'ud2' }],
  int3: [{ op: 'int3' }],
  nop: [{ op: 'nop' }, { op: 'vmmcall' }],
};

function oracleVmcb12(c: OracleSvmChoice): Vmcb {
  const v = zeroVmcb();
  const ctl = v.control;
  // Intercept everything that could leave L2 running: HLT (L2's IF is 0, it would wait forever),
  // SHUTDOWN, and every exception, so a fault exits as 0x40 + vector on every implementation.
  for (const b of [INTERCEPT.VMRUN, INTERCEPT.VMMCALL, INTERCEPT.HLT, INTERCEPT.SHUTDOWN, INTERCEPT.CPUID]) setIntercept(ctl.intercepts, b);
  ctl.intercepts[2] = 0xffffffff;
  ctl.asid = 1;
  ctl.iopm_base_pa = BigInt(LAYOUT.IOPM_PA);
  ctl.msrpm_base_pa = BigInt(LAYOUT.MSRPM_PA);
  ctl.int_ctl = INT_CTL.V_INTR_MASKING;
  if (c.np) {
    ctl.misc_ctl = MISC_CTL.NP_ENABLE;
    ctl.nested_cr3 = BigInt(c.npt && c.npt !== 'identity' ? nptVariantRoot(c.npt) : LAYOUT.HOST_PML4);
  }
  const s = v.save;
  const long = c.mode === 'long64';
  const data = { selector: GUEST_SEL.DATA, attrib: 0xc93, limit: 0xffffffff, base: 0n };
  s.cs = { selector: long ? GUEST_SEL.CODE64 : GUEST_SEL.CODE32, attrib: long ? 0xa9b : 0xc9b, limit: 0xffffffff, base: 0n };
  s.ss = { ...data };
  s.ds = { ...data };
  s.es = { ...data };
  s.fs = { ...data };
  s.gs = { ...data };
  s.tr = { selector: 0, attrib: 0x8b, limit: 0x67, base: 0n };
  s.gdtr = { selector: 0, attrib: 0, limit: 0x1f, base: BigInt(LAYOUT.GUEST_GDT) };
  s.idtr = { selector: 0, attrib: 0, limit: long ? 0xfff : 0x7ff, base: BigInt(snippetIdt(c.snippet, long)) };
  s.efer = long ? HARNESS_L1.efer : EFER.SVME;
  s.cr0 = c.mode === 'unpaged32' ? CR0.ET | CR0.PE : HARNESS_L1.cr0;
  s.cr3 = long ? BigInt(LAYOUT.HOST_PML4) : c.mode === 'legacy32' ? BigInt(LAYOUT.GUEST_PD32) : 0n;
  s.cr4 = long ? HARNESS_L1.cr4 : 0n;
  s.rflags = 0x2n;
  s.rip = BigInt(snippetRip(c.snippet));
  s.rsp = BigInt(LAYOUT.GUEST_STACK);
  s.dr6 = DR6_ACTIVE_LOW;
  s.dr7 = DR7_FIXED_1;
  s.g_pat = PAT_DEFAULT;
  return v;
}

export function oracleSvmBase(cpu: OracleCpu, c: OracleSvmChoice): SvmScenario {
  const l1 = defaultL1();
  l1.efer = HARNESS_L1.efer;
  l1.cr0 = HARNESS_L1.cr0;
  l1.cr3 = BigInt(LAYOUT.HOST_PML4);
  l1.cr4 = HARNESS_L1.cr4;
  l1.cs_attrib = HARNESS_L1.cs_attrib;
  l1.rax = BigInt(statePage(0));
  l1.vm_hsave_pa = BigInt(LAYOUT.HSAVE_PA);
  l1.maxphyaddr = cpu.maxphyaddr;
  l1.host = { ...cpu.host };
  l1.guest = { ...cpu.guest };
  l1.memslots = [{ base: 0n, size: RAM_BYTES_GPA_TOP }];
  l1.memory = {};
  return { arch: 'svm', entry: 'vmrun', l1, vmcb12: oracleVmcb12(c), l2: SNIPPET_PROGRAM[c.snippet].map((i) => ({ ...i })), race: null, smm: null, nested_state: null };
}
