// A nested-SVM corpus counterexample, projected onto the harness: the emulator can only run a
// vmcb12 whose addresses point at what the harness built, so the state keeps the corpus case's
// values for every field a consistency check or the exit path reads, while addresses that were
// legal in the corpus case are replaced by the harness's own (bits above the harness CPU's
// MAXPHYADDR are kept, so an illegal address stays illegal). L1 is the harness on the emulated
// CPU. The projection is a new state, reported as such: it runs the corpus case's vmcb12 choices,
// not its L1.

import { buildOracleSvmCase, type OracleSvmCase } from '../../arbitraries/oracleSvm.ts';
import type { OracleSvmChoice } from '../../arbitraries/_internals/builders/oracleSvmBase.ts';
import { CR0, EFER, INTERCEPT, MISC_CTL, isIntercept, setIntercept, clrIntercept } from '../../arch/svm/defs.ts';
import type { SvmScenario } from '../../engine/svm/scenario.ts';
import type { OracleCpu } from '../cpu.ts';
import { GUEST_SNIPPET_NAMES, type GuestSnippet } from '../image.ts';

/** Why a scenario cannot be projected, or null. */
export function unprojectable(s: { arch?: string; entry?: string }): string | null {
  if (s.arch !== 'svm') return `a ${s.arch ?? 'non-SVM'} scenario`;
  if (s.entry !== 'vmrun') return `entered by ${s.entry} (only VMRUN runs on an emulator)`;
  return null;
}

export function projectSvmScenario(cpu: OracleCpu, s: SvmScenario): OracleSvmCase {
  const v = s.vmcb12;
  const mode: OracleSvmChoice['mode'] = (v.save.cr0 & CR0.PG) === 0n ? 'unpaged32' : (v.save.efer & EFER.LME) !== 0n ? 'long64' : 'legacy32';
  const first = s.l2[0]?.op;
  const snippet: GuestSnippet = GUEST_SNIPPET_NAMES.includes(first as GuestSnippet) ? (first as GuestSnippet) : 'vmmcall';
  const np = (v.control.misc_ctl & MISC_CTL.NP_ENABLE) !== 0n;
  const c = buildOracleSvmCase(cpu, { mode, np, snippet }, []);
  const hi = ~((1n << BigInt(cpu.maxphyaddr)) - 1n) & 0xffffffffffffffffn;
  const t = c.scenario.vmcb12;
  const keepHigh = (harness: bigint, corpus: bigint): bigint => harness | (corpus & hi);
  // Control area: every value a check or the exit path reads.
  const intercepts = [...v.control.intercepts];
  // The harness needs L2 to exit: HLT, SHUTDOWN and every exception stay intercepted.
  for (const b of [INTERCEPT.HLT, INTERCEPT.SHUTDOWN, INTERCEPT.VMMCALL]) setIntercept(intercepts, b);
  intercepts[2] = 0xffffffff;
  if (!isIntercept(v.control.intercepts, INTERCEPT.VMRUN)) clrIntercept(intercepts, INTERCEPT.VMRUN);
  Object.assign(t.control, {
    intercepts,
    asid: v.control.asid,
    tlb_ctl: v.control.tlb_ctl,
    int_ctl: v.control.int_ctl,
    int_vector: v.control.int_vector,
    int_state: v.control.int_state,
    event_inj: v.control.event_inj,
    event_inj_err: v.control.event_inj_err,
    misc_ctl: v.control.misc_ctl,
    misc_ctl2: v.control.misc_ctl2,
    nested_cr3: keepHigh(t.control.nested_cr3, v.control.nested_cr3),
    iopm_base_pa: keepHigh(t.control.iopm_base_pa, v.control.iopm_base_pa),
    msrpm_base_pa: keepHigh(t.control.msrpm_base_pa, v.control.msrpm_base_pa),
  });
  Object.assign(t.save, {
    efer: v.save.efer, cr0: v.save.cr0, cr4: v.save.cr4, dr6: v.save.dr6, dr7: v.save.dr7, g_pat: v.save.g_pat,
    rflags: v.save.rflags, cpl: v.save.cpl,
    cr3: keepHigh(t.save.cr3, v.save.cr3),
  });
  // CS.L and CS.D decide a consistency check; the rest of CS stays the harness's.
  t.save.cs.attrib = (t.save.cs.attrib & ~0x600) | (v.save.cs.attrib & 0x600);
  return { ...c, mutations: ['projected-from-corpus:0'] };
}
