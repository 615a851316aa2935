// GIF (APM 15.17). With the host's vGIF, KVM keeps a GIF in a VMCB's int_ctl.V_GIF; which VMCB is
// get_vgif_vmcb (svm.h): vmcb02 while L2 runs without nested vGIF, otherwise vmcb01 — so with nested
// vGIF, vmcb01's V_GIF is L1's GIF and vmcb02's is L2's. Without host vGIF it is HF_GIF_MASK.

import { INT_CTL } from '../../arch/svm/defs.ts';
import type { Vmcb } from '../../arch/svm/vmcb.ts';
import type { SvmVcpu } from '../vcpu.ts';
import type { Ctx } from './ctx.ts';

/** nested_vgif_enabled: the guest may use vGIF and vmcb12 turned it on. */
export function nested_vgif_enabled(v: SvmVcpu): boolean {
  return v.host.vgif && v.guest.vgif && (v.nested.ctl.int_ctl & INT_CTL.V_GIF_ENABLE) !== 0;
}

export function get_vgif_vmcb(v: SvmVcpu): Vmcb | null {
  if (!v.host.vgif) return null;
  if (v.guest_mode && !nested_vgif_enabled(v)) return v.vmcb02;
  return v.vmcb01;
}

export function gif_set(v: SvmVcpu): boolean {
  const vmcb = get_vgif_vmcb(v);
  if (vmcb) return (vmcb.control.int_ctl & INT_CTL.V_GIF) !== 0;
  return v.hflags_gif;
}

export function svm_set_gif(ctx: Ctx, value: boolean): void {
  const vmcb = get_vgif_vmcb(ctx.v);
  if (vmcb) {
    vmcb.control.int_ctl = value ? (vmcb.control.int_ctl | INT_CTL.V_GIF) >>> 0 : (vmcb.control.int_ctl & ~INT_CTL.V_GIF) >>> 0;
  } else {
    ctx.v.hflags_gif = value;
  }
  ctx.t.emit('svm_set_gif', { value });
}

/**
 * L1's GIF as the architecture defines it, whichever VMCB holds it: in guest mode L1's GIF is 1
 * by definition of a running L2, outside guest mode it is gif_set().
 */
export function l1_gif(v: SvmVcpu): number {
  if (!v.guest_mode) return gif_set(v) ? 1 : 0;
  if (nested_vgif_enabled(v)) return (v.vmcb01.control.int_ctl & INT_CTL.V_GIF) !== 0 ? 1 : 0;
  return gif_set(v) ? 1 : 0;
}
