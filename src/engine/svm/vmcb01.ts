// svm_init_vmcb-style vmcb01: what L0 (KVM) itself intercepts and sets for L1. vmcb02 starts as
// L0's choices and gets L1's merged in by nested_vmcb02_prepare_control.

import { EFER, INTERCEPT, INT_CTL, MISC_CTL, MISC_CTL2, VEC, setIntercept } from '../../arch/svm/defs.ts';
import { zeroVmcb, type Vmcb, type VmcbSeg } from '../../arch/svm/vmcb.ts';
import type { L1State } from './scenario.ts';

/** Host-physical addresses of L0's own bitmaps (never L1-visible). */
export const L0_IOPM_PA = 0x7f000000000n;
export const L0_MSRPM_PA = 0x7f000004000n;
export const L0_ASID = 1;

function flat(selector: number, attrib: number): VmcbSeg {
  return { selector, attrib, limit: 0xffffffff, base: 0n };
}

/** L0's intercept words depend only on host features: computed once per combination. */
const interceptCache = new Map<string, number[]>();

function l0Intercepts(host: L1State['host']): number[] {
  const key = `${+host.npt}${+host.v_vmsave_vmload}${+host.vgif}`;
  let words = interceptCache.get(key);
  if (!words) {
    words = computeL0Intercepts(host);
    interceptCache.set(key, words);
  }
  return words.slice();
}

function computeL0Intercepts(host: L1State['host']): number[] {
  const i = [0, 0, 0, 0, 0, 0];
  for (const b of [INTERCEPT.CR0_READ, INTERCEPT.CR4_READ, INTERCEPT.CR0_WRITE, INTERCEPT.CR4_WRITE, INTERCEPT.CR8_WRITE, INTERCEPT.DR7_READ, INTERCEPT.DR7_WRITE]) setIntercept(i, b);
  if (!host.npt) {
    setIntercept(i, INTERCEPT.CR3_READ);
    setIntercept(i, INTERCEPT.CR3_WRITE);
    setIntercept(i, INTERCEPT.EXCEPTION_OFFSET + VEC.PF);
    setIntercept(i, INTERCEPT.INVLPG);
  }
  for (const vec of [VEC.UD, VEC.AC, VEC.MC]) setIntercept(i, INTERCEPT.EXCEPTION_OFFSET + vec);
  for (const b of [
    INTERCEPT.INTR, INTERCEPT.NMI, INTERCEPT.SMI, INTERCEPT.SELECTIVE_CR0, INTERCEPT.RDPMC, INTERCEPT.CPUID,
    INTERCEPT.INVD, INTERCEPT.INVLPGA, INTERCEPT.IOIO_PROT, INTERCEPT.MSR_PROT, INTERCEPT.TASK_SWITCH,
    INTERCEPT.SHUTDOWN, INTERCEPT.VMRUN, INTERCEPT.VMMCALL, INTERCEPT.SKINIT, INTERCEPT.WBINVD,
    INTERCEPT.XSETBV, INTERCEPT.RDPRU, INTERCEPT.HLT, INTERCEPT.MONITOR, INTERCEPT.MWAIT, INTERCEPT.PAUSE,
  ]) setIntercept(i, b);
  if (!host.v_vmsave_vmload) {
    setIntercept(i, INTERCEPT.VMLOAD);
    setIntercept(i, INTERCEPT.VMSAVE);
  }
  if (!host.vgif) {
    setIntercept(i, INTERCEPT.STGI);
    setIntercept(i, INTERCEPT.CLGI);
  }
  return i;
}

export function svm_init_vmcb01(l1: L1State): Vmcb {
  const v = zeroVmcb();
  const host = l1.host;
  v.control.intercepts = l0Intercepts(host);
  const c = v.control;
  c.asid = L0_ASID;
  c.iopm_base_pa = L0_IOPM_PA;
  c.msrpm_base_pa = L0_MSRPM_PA;
  c.misc_ctl = host.npt ? MISC_CTL.NP_ENABLE : 0n;
  c.misc_ctl2 = host.v_vmsave_vmload ? MISC_CTL2.V_VMLOAD_VMSAVE : 0n;
  c.int_ctl = INT_CTL.V_INTR_MASKING;
  if (host.vgif) c.int_ctl |= INT_CTL.V_GIF_ENABLE | (l1.gif ? INT_CTL.V_GIF : 0);
  if (host.vnmi) c.int_ctl |= INT_CTL.V_NMI_ENABLE;
  c.int_ctl >>>= 0;
  c.clean = 0;
  const s = v.save;
  s.cs = flat(0x10, l1.cs_attrib);
  s.ss = flat(0x18, 0xc93);
  s.ds = flat(0x18, 0xc93);
  s.es = flat(0x18, 0xc93);
  s.fs = flat(0, 0);
  s.gs = flat(0, 0);
  s.gdtr = { selector: 0, attrib: 0, limit: 0x47, base: 0x1000n };
  s.idtr = { selector: 0, attrib: 0, limit: 0xfff, base: 0x2000n };
  s.tr = { selector: 0x28, attrib: 0x8b, limit: 0x67, base: 0x3000n };
  s.ldtr = flat(0, 0);
  s.cpl = l1.cpl;
  s.efer = l1.efer | EFER.SVME; // svm_set_efer: the hardware VMCB always has SVME
  s.cr0 = l1.cr0;
  s.cr3 = l1.cr3;
  s.cr4 = l1.cr4;
  s.cr2 = l1.cr2;
  s.dr6 = l1.dr6;
  s.dr7 = l1.dr7;
  s.rflags = l1.rflags;
  s.rip = l1.rip;
  s.rsp = l1.rsp;
  s.rax = l1.rax;
  s.g_pat = l1.pat;
  return v;
}
