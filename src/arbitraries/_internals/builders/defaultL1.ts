// The default L1 (issue #3 and `check`): 64-bit at CPL 0 with EFER.SVME set, GIF 1, VM_HSAVE_PA
// set, NPT available, MAXPHYADDR 48, the first 4 GiB backed, vmcb12 at a fixed page.

import { CR0, CR4, EFER, PAT_DEFAULT } from '../../../arch/svm/defs.ts';
import type { GuestCpuid, HostFeatures, L1State } from '../../../engine/svm/scenario.ts';

export const VMCB12_GPA = 0x200000n;
export const HSAVE_GPA = 0x201000n;
export const IOPM_GPA = 0x210000n;
export const MSRPM_GPA = 0x220000n;
export const NCR3_GPA = 0x300000n;
export const L1_CR3 = 0x100000n;
/** A PDPT for PAE L2 states without nested NPT (four present, valid entries). */
export const L2_PAE_PDPT_GPA = 0x400000n;
export const L2_CR3_64 = 0x500000n;
export const L2_RIP = 0x600000n;

export function defaultHost(): HostFeatures {
  return { npt: true, nrips: true, vgif: true, vnmi: true, lbrv: true, v_vmsave_vmload: true, avic: true, intercept_smi: true };
}

export function defaultGuestCpuid(): GuestCpuid {
  return {
    svm: true, npt: true, nrips: true, vgif: true, vnmi: true, lbrv: true, v_vmsave_vmload: true, lm: true,
    nx: true, ffxsr: true, xsave: true, invpcid: true, rdtscp: true, skinit: false, rdpru: true, shstk: false,
    sev_es: false, la57: false, smep: true, smap: true, pku: false, fsgsbase: true, pcid: true, umip: true,
    gmet: false, lam: false, pausefilter: true, pfthreshold: true,
  };
}

/** 64-bit L1 CR0: PE MP ET NE WP AM PG. */
export const L1_CR0 = CR0.PE | CR0.MP | CR0.ET | CR0.NE | CR0.WP | CR0.AM | CR0.PG;
export const L1_CR4 = CR4.PAE | CR4.PGE | CR4.OSFXSR | CR4.OSXMMEXCPT;
export const L1_EFER = EFER.SCE | EFER.LME | EFER.LMA | EFER.NX | EFER.SVME;
/** 64-bit code segment attributes: type 0xB, S, P, L, G. */
export const CS64_ATTRIB = 0xa9b;

/** Four present PDPTEs (little-endian hex) pointing at page directories from 0x410000. */
export function pdptHex(firstPd: number): string {
  const out: string[] = [];
  for (let i = 0; i < 4; i++) {
    const e = BigInt(firstPd + i * 0x1000) | 1n;
    out.push(e.toString(16).padStart(16, '0').match(/../g)!.reverse().join(''));
  }
  return out.join('');
}

const L2_PDPT_HEX = pdptHex(0x410000);

export function defaultL1(): L1State {
  return {
    efer: L1_EFER,
    cr0: L1_CR0,
    cr3: L1_CR3,
    cr4: L1_CR4,
    cr2: 0n,
    rflags: 0x2n,
    rip: 0x401000n,
    rsp: 0x80000n,
    rax: VMCB12_GPA,
    dr6: 0xffff0ff0n,
    dr7: 0x400n,
    cs_attrib: CS64_ATTRIB,
    cpl: 0,
    gif: 1,
    vm_hsave_pa: HSAVE_GPA,
    smm: false,
    pat: PAT_DEFAULT,
    maxphyaddr: 48,
    host: defaultHost(),
    guest: defaultGuestCpuid(),
    quirks: { nested_svm_shared_pat: false },
    memslots: [{ base: 0n, size: 0x100000000n }],
    memory: { [`0x${L2_PAE_PDPT_GPA.toString(16)}`]: L2_PDPT_HEX },
  };
}
