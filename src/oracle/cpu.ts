// The emulated CPU as the engine must see it: the harness dumps CPUID at boot, and the engine's
// L1 gets exactly those features (KVM's checks consult guest CPUID: __kvm_is_valid_cr4,
// kvm_valid_efer, kvm_vcpu_is_legal_gpa via MAXPHYADDR), so a verdict difference is never a
// feature-set mismatch.

import type { GuestCpuid, HostFeatures } from '../engine/svm/scenario.ts';
import { CPUID_LEAVES } from './layout.ts';

export interface OracleCpu {
  /** The adapter's CPU model name. */
  model: string;
  maxphyaddr: number;
  guest: GuestCpuid;
  host: HostFeatures;
  /** Raw leaves as dumped (layout.ts CPUID_LEAVES), for the report. */
  cpuid: number[][];
}

const bit = (v: number, b: number): boolean => ((v >>> b) & 1) === 1;

export function cpuFromCpuid(model: string, cpuid: number[][]): OracleCpu {
  const leaf = (id: number): number[] => cpuid[CPUID_LEAVES.indexOf(id as (typeof CPUID_LEAVES)[number])] ?? [0, 0, 0, 0];
  const [, , ecx1] = leaf(0x1);
  const [, ebx7, ecx7] = leaf(0x7);
  const [, , ecxE1, edxE1] = leaf(0x80000001);
  const [eaxE8, ebxE8] = leaf(0x80000008);
  const [, , , edxEA] = leaf(0x8000000a);
  const svm = bit(ecxE1, 2);
  const guest: GuestCpuid = {
    svm,
    vmx: bit(ecx1, 5),
    npt: svm && bit(edxEA, 0),
    lbrv: svm && bit(edxEA, 1),
    nrips: svm && bit(edxEA, 3),
    pausefilter: svm && bit(edxEA, 10),
    pfthreshold: svm && bit(edxEA, 12),
    v_vmsave_vmload: svm && bit(edxEA, 15),
    vgif: svm && bit(edxEA, 16),
    gmet: svm && bit(edxEA, 17),
    vnmi: svm && bit(edxEA, 25),
    lm: bit(edxE1, 29),
    nx: bit(edxE1, 20),
    ffxsr: bit(edxE1, 25),
    rdtscp: bit(edxE1, 27),
    skinit: bit(ecxE1, 12),
    xsave: bit(ecx1, 26),
    pcid: bit(ecx1, 17),
    fsgsbase: bit(ebx7, 0),
    smep: bit(ebx7, 7),
    invpcid: bit(ebx7, 10),
    smap: bit(ebx7, 20),
    umip: bit(ecx7, 2),
    pku: bit(ecx7, 3),
    shstk: bit(ecx7, 7),
    la57: bit(ecx7, 16),
    rdpru: bit(ebxE8, 4),
    sev_es: false,
    lam: false,
  };
  // L0 (the imagined KVM host) has what it exposes: KVM only advertises nested features it has.
  const host: HostFeatures = {
    npt: guest.npt, nrips: guest.nrips, vgif: guest.vgif, vnmi: guest.vnmi, lbrv: guest.lbrv,
    v_vmsave_vmload: guest.v_vmsave_vmload, avic: false, intercept_smi: true,
  };
  return { model, maxphyaddr: eaxE8 & 0xff || 36, guest, host, cpuid };
}
