// The snapshot a set of consistency checks approved, recorded as a trace event so invariants can
// compare it with what L2 then runs with (checked-is-run). Not a KVM tracepoint: model bookkeeping.

import type { VmcbControl, VmcbSave } from '../../../arch/svm/vmcb.ts';
import type { TraceValue } from '../../trace.ts';
import type { Ctx } from '../ctx.ts';

/** Save-area values the approved L2 state is judged by: vmcb12's, or L2's registers (SET_NESTED_STATE). */
export interface ApprovedSave {
  efer: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  dr6?: bigint;
  dr7?: bigint;
  cs_attrib?: number;
  g_pat?: bigint;
}

export function saveOf(s: VmcbSave): ApprovedSave {
  return { efer: s.efer, cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, dr6: s.dr6, dr7: s.dr7, cs_attrib: s.cs.attrib, g_pat: s.g_pat };
}

export function trace_nested_vmcb_checks_passed(ctx: Ctx, c: VmcbControl, s: ApprovedSave, extra: Record<string, TraceValue> = {}): void {
  ctx.t.emit('nested_vmcb_checks_passed', {
    intercepts: c.intercepts.slice(), asid: c.asid, misc_ctl: c.misc_ctl, nested_cr3: c.nested_cr3, event_inj: c.event_inj,
    efer: s.efer, cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, dr6: s.dr6, dr7: s.dr7, cs_attrib: s.cs_attrib, g_pat: s.g_pat,
    ...extra,
  });
}
