// __nested_copy_vmcb_control_to_cache / __nested_copy_vmcb_save_to_cache (nested.c): the one
// snapshot of vmcb12 that the checks and vmcb02 construction use. Sanitising happens here so
// reserved bits and feature gating are settled before any rule runs (spec §4.1).

import { EVTINJ, INTERCEPT, MISC_CTL, TLB_CONTROL, clrIntercept } from '../../../arch/svm/defs.ts';
import { cloneControl, cloneSave, type VmcbControl, type VmcbSave } from '../../../arch/svm/vmcb.ts';
import { has } from '../../profiles.ts';
import type { Ctx } from '../ctx.ts';

export function __nested_copy_vmcb_control_to_cache(ctx: Ctx, from: VmcbControl): VmcbControl {
  const { v, p } = ctx;
  const c = cloneControl(from);
  // "Bits 11:0 of bitmap address are ignored by hardware" (both trees mask them).
  c.iopm_base_pa &= ~0xfffn;
  c.msrpm_base_pa &= ~0xfffn;
  // NP_ENABLE is ignored (cleared) when the guest has no NPT, instead of failing VMRUN when the
  // host's npt_enabled is off (Drop the non-architectural consistency check for NP_ENABLE).
  if (has(p, 'svm-drop-np-enable-host-check') && !v.guest.npt) c.misc_ctl &= ~MISC_CTL.NP_ENABLE;
  if (!has(p, 'svm-sanitize-control-cache')) return c;
  // Intercepts of instructions the guest cannot have are dropped (guest CPUID gating).
  if (!v.guest.xsave) clrIntercept(c.intercepts, INTERCEPT.XSETBV);
  if (!v.guest.invpcid) clrIntercept(c.intercepts, INTERCEPT.INVPCID);
  if (!v.guest.rdtscp) clrIntercept(c.intercepts, INTERCEPT.RDTSCP);
  if (!v.guest.skinit) clrIntercept(c.intercepts, INTERCEPT.SKINIT);
  if (!v.guest.rdpru) clrIntercept(c.intercepts, INTERCEPT.RDPRU);
  // GMET only if the guest has GMET.
  if (!v.guest.gmet) c.misc_ctl &= ~MISC_CTL.GMET;
  c.tlb_ctl &= TLB_CONTROL.MASK;
  c.int_vector &= 0xff;
  c.int_state &= 1; // only the interrupt shadow is L1's to set
  c.event_inj = (c.event_inj & ~EVTINJ.RESERVED_BITS) >>> 0;
  return c;
}

/**
 * The save-area cache. NEW caches every field it uses ("Cache all used fields from VMCB12"); OLD
 * cached only efer, cr0, cr3, cr4, dr6, dr7 and re-read the rest from the mapped vmcb12.
 */
export function __nested_copy_vmcb_save_to_cache(from: VmcbSave): VmcbSave {
  return cloneSave(from);
}
