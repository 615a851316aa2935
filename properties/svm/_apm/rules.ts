// The APM's VMRUN rules as records (gates, §15.5.1 consistency checks, §15.20, §15.21.4, §15.25).

import { CR0, CR4, EFER, EVTINJ, INTERCEPT, INT_CTL, IOPM_SIZE, MSRPM_SIZE, RFLAGS, isIntercept } from '../../../src/arch/svm/defs.ts';
import { type Vmcb } from '../../../src/arch/svm/vmcb.ts';
import { physLegal, APM_CR4_MBZ, APM_EFER_MBZ, APM_EXCEPTION_VECTORS, APM_EVENT_TYPES, patValid, mapBeyondLimit, np, lmePg, csL, csD } from './helpers.ts';

import type { VmrunRule } from './types.ts';

// ---------------------------------------------------------------------------------------------
// The APM's rules, in the order the instruction evaluates them (gates first).

export const APM15_5_1 = 'APM vol. 2 §15.5.1 "Canonicalization and Consistency Checks"';

export const APM_VMRUN_RULES: readonly VmrunRule[] = [
  // ---- gates (VMRUN instruction reference, APM vol. 3; §15.5) ----
  {
    id: 'vmrun-svm-unsupported', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN, exceptions: #UD when CPUID Fn8000_0001_ECX[SVM] = 0',
    applies: (_l1, _v, env) => !env.cpu.svm,
  },
  {
    id: 'vmrun-efer-svme-clear', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 2 §15.4 / vol. 3 VMRUN: #UD when EFER.SVME = 0 ("Secure Virtual Machine was not enabled")',
    applies: (l1) => (l1.efer & EFER.SVME) === 0n,
  },
  {
    id: 'vmrun-not-protected-mode', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN: #UD in real mode (the SVM instructions are recognised only in protected mode)',
    applies: (l1) => (l1.cr0 & CR0.PE) === 0n,
  },
  {
    id: 'vmrun-virtual-8086-mode', stage: 'gate', outcome: '#UD',
    source: 'APM vol. 3 VMRUN: #UD in virtual-8086 mode',
    applies: (l1) => (l1.cr0 & CR0.PE) !== 0n && (l1.rflags & RFLAGS.VM) !== 0n,
  },
  {
    id: 'vmrun-cpl-nonzero', stage: 'gate', outcome: '#GP',
    source: 'APM vol. 2 §15.5: "VMRUN is available only at CPL 0"; #GP(0) otherwise',
    applies: (l1) => l1.cpl !== 0,
  },
  {
    id: 'vmrun-rax-invalid', stage: 'gate', outcome: '#GP',
    source: 'APM vol. 3 VMRUN: #GP(0) when rAX is not 4-Kbyte aligned or beyond the maximum supported physical address',
    applies: (_l1, _v, env) => (env.vmcb12Gpa & 0xfffn) !== 0n || !physLegal(env.vmcb12Gpa, env.maxphyaddr),
  },
  // ---- §15.5.1: guest state ----
  { id: 'efer-svme-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.SVME is zero"`, applies: (_l, v) => (v.save.efer & EFER.SVME) === 0n },
  {
    id: 'cr0-cd-clear-nw-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "CR0.CD is zero and CR0.NW is set"`,
    applies: (_l, v) => (v.save.cr0 & CR0.CD) === 0n && (v.save.cr0 & CR0.NW) !== 0n,
  },
  { id: 'cr0-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "CR0[63:32] are not zero"`, applies: (_l, v) => v.save.cr0 >> 32n !== 0n },
  {
    id: 'cr3-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of CR3 is set" (bits at or above MAXPHYADDR)`,
    applies: (_l, v, env) => !physLegal(v.save.cr3, env.maxphyaddr),
  },
  { id: 'cr4-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of CR4 is set"`, applies: (_l, v) => (v.save.cr4 & APM_CR4_MBZ) !== 0n },
  { id: 'dr6-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "DR6[63:32] are not zero"`, applies: (_l, v) => v.save.dr6 >> 32n !== 0n },
  { id: 'dr7-upper-bits-set', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "DR7[63:32] are not zero"`, applies: (_l, v) => v.save.dr7 >> 32n !== 0n },
  { id: 'efer-mbz', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "Any MBZ bit of EFER is set"`, applies: (_l, v) => (v.save.efer & APM_EFER_MBZ) !== 0n },
  {
    id: 'efer-long-mode-unsupported', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "EFER.LMA or EFER.LME is non-zero and this processor does not support long mode"`,
    applies: (_l, v, env) => (v.save.efer & (EFER.LMA | EFER.LME)) !== 0n && !env.cpu.lm,
  },
  {
    id: 'long-mode-cr4-pae-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME and CR0.PG are both set and CR4.PAE is zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr4 & CR4.PAE) === 0n,
  },
  {
    id: 'long-mode-cr0-pe-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr0 & CR0.PE) === 0n,
  },
  {
    id: 'long-mode-cs-l-and-d', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero"`,
    applies: (_l, v) => lmePg(v) && (v.save.cr4 & CR4.PAE) !== 0n && csL(v) && csD(v),
  },
  // ---- §15.5.1: controls ----
  {
    id: 'vmrun-intercept-clear', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "The VMRUN intercept bit is clear"`,
    applies: (_l, v) => !isIntercept(v.control.intercepts, INTERCEPT.VMRUN),
  },
  {
    id: 'msrpm-beyond-maxphyaddr', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "The MSR or IOIO intercept tables extend to a physical address that is greater than or equal to the maximum supported physical address" (MSRPM: 8 KB)`,
    applies: (_l, v, env) => mapBeyondLimit(v.control.msrpm_base_pa, MSRPM_SIZE, env.maxphyaddr),
  },
  {
    id: 'iopm-beyond-maxphyaddr', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: the same rule for the IOPM (12 KB)`,
    applies: (_l, v, env) => mapBeyondLimit(v.control.iopm_base_pa, IOPM_SIZE, env.maxphyaddr),
  },
  {
    id: 'event-inj-type-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: `${APM15_5_1}: "Illegal event injection"; APM §15.20: a reserved EVENTINJ.TYPE value (1, 5, 6, 7)`,
    applies: (_l, v) => (v.control.event_inj & EVTINJ.VALID) !== 0 && !APM_EVENT_TYPES.has((v.control.event_inj & EVTINJ.TYPE_MASK) >> EVTINJ.TYPE_SHIFT),
  },
  {
    id: 'event-inj-exception-vector-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.20: TYPE = 3 (exception) with a vector that is not an exception (2, NMI, included)',
    applies: (_l, v) => eventInjException(v) && !APM_EXCEPTION_VECTORS.has(v.control.event_inj & EVTINJ.VEC_MASK),
  },
  { id: 'asid-zero', stage: 'check', outcome: 'vmexit-invalid', source: `${APM15_5_1}: "ASID is equal to zero"`, applies: (_l, v) => v.control.asid === 0 },
  {
    id: 'vnmi-without-nmi-intercept', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.21.4 "NMI Virtualization": V_NMI_ENABLE requires the NMI intercept (on processors with NMI virtualisation)',
    applies: (_l, v, env) => env.cpu.vnmi && vnmiWithoutIntercept(v),
  },
  // ---- §15.25.3 / §15.25.4: nested paging ----
  {
    id: 'ncr3-mbz', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.3: with NP_ENABLE, an nCR3 with MBZ bits (at or above MAXPHYADDR) set fails VMRUN',
    applies: (_l, v, env) => np(v) && !physLegal(v.control.nested_cr3, env.maxphyaddr),
  },
  {
    id: 'np-enable-hcr0-pg-clear', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.3: "If VMRUN is executed with hCR0.PG cleared to zero and NP_ENABLE set to 1, VMRUN terminates with #VMEXIT(VMEXIT_INVALID)"',
    applies: (l1, v) => np(v) && (l1.cr0 & CR0.PG) === 0n,
  },
  {
    id: 'gpat-invalid', stage: 'check', outcome: 'vmexit-invalid',
    source: 'APM §15.25.4 "Nested Paging and VMRUN/#VMEXIT": with NP_ENABLE, a gPAT holding a reserved memory type fails VMRUN',
    applies: (_l, v) => np(v) && !patValid(v.save.g_pat),
  },
];

export function eventInjException(v: Vmcb): boolean {
  const ev = v.control.event_inj;
  return (ev & EVTINJ.VALID) !== 0 && (ev & EVTINJ.TYPE_MASK) === EVTINJ.TYPE_EXEPT;
}

export function vnmiWithoutIntercept(v: Vmcb): boolean {
  return (v.control.int_ctl & INT_CTL.V_NMI_ENABLE) !== 0 && !isIntercept(v.control.intercepts, INTERCEPT.NMI);
}
