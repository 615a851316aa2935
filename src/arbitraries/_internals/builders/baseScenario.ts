// A valid-by-construction scenario: L1 (default or 32-bit PAE), a vmcb12 every kernel accepts for
// the chosen L2 paging mode, an L2 program and an entry path. Mutations are applied on top.

import { CR0, CR4, EFER, INTERCEPT, MISC_CTL, VEC, clrIntercept, setIntercept } from '../../../arch/svm/defs.ts';
import { cloneVmcb } from '../../../arch/svm/vmcb.ts';
import type { EntryPath, L2Insn, SvmScenario } from '../../../engine/svm/scenario.ts';
import { defaultL1, L1_CR4, L2_PAE_PDPT_GPA, pdptHex } from './defaultL1.ts';
import { validVmcb12 } from './validVmcb12.ts';

/** Paging mode L2 is entered in; each is valid on every kernel profile. */
export const L2_MODES = ['long64', 'pae-no-npt', 'pae-npt', 'legacy32-npt', 'unpaged-npt'] as const;
export type L2Mode = (typeof L2_MODES)[number];

export const L1_MODES = ['long64', 'pae32'] as const;
export type L1Mode = (typeof L1_MODES)[number];

export interface BaseChoice {
  entry: EntryPath;
  l1Mode: L1Mode;
  l2Mode: L2Mode;
  program: L2Insn[];
  maxphyaddr: number;
  /** Host/guest feature toggles that keep the base valid. */
  vgif: boolean;
  vnmi: boolean;
  nrips: boolean;
  vls: boolean;
  avic: boolean;
  /**
   * Whether vmcb12 intercepts VMMCALL (absent: yes, the base's choice) and #UD (absent: no).
   * Choices stored before these fields existed rebuild as before.
   */
  vmmcallIntercept?: boolean;
  udIntercept?: boolean;
}

export const DEFAULT_BASE: BaseChoice = {
  entry: 'vmrun', l1Mode: 'long64', l2Mode: 'long64', program: [], maxphyaddr: 48,
  vgif: true, vnmi: true, nrips: true, vls: true, avic: true,
};

/** 32-bit PAE L1 with a PDPT of its own at L1_PAE_PDPT_GPA (four valid present entries). */
export const L1_PAE_PDPT_GPA = 0x180000n;

const L1_PDPT_HEX = pdptHex(0x190000);

export function baseScenario(b: BaseChoice): SvmScenario {
  const l1 = defaultL1();
  l1.maxphyaddr = b.maxphyaddr;
  l1.host = { ...l1.host, vgif: b.vgif, vnmi: b.vnmi, nrips: b.nrips, v_vmsave_vmload: b.vls, avic: b.avic };
  l1.guest = { ...l1.guest, vgif: b.vgif, vnmi: b.vnmi, nrips: b.nrips, v_vmsave_vmload: b.vls };
  if (b.l1Mode === 'pae32') {
    l1.efer = EFER.NX | EFER.SVME;
    l1.cs_attrib = 0xc9b; // 32-bit code: D/B, G
    l1.cr3 = L1_PAE_PDPT_GPA;
    l1.rip &= 0xffffffffn;
    l1.memory[`0x${L1_PAE_PDPT_GPA.toString(16)}`] = L1_PDPT_HEX;
  }
  const vmcb12 = validVmcb12();
  const s = vmcb12.save;
  const c = vmcb12.control;
  switch (b.l2Mode) {
    case 'long64':
      break;
    case 'pae-no-npt':
    case 'pae-npt':
      s.efer = EFER.NX | EFER.SVME;
      s.cs = { ...s.cs, attrib: 0xc9b };
      s.cr3 = L2_PAE_PDPT_GPA;
      if (b.l2Mode === 'pae-no-npt') {
        c.misc_ctl &= ~MISC_CTL.NP_ENABLE;
        c.nested_cr3 = 0n;
      }
      break;
    case 'legacy32-npt':
      s.efer = EFER.SVME;
      s.cs = { ...s.cs, attrib: 0xc9b };
      s.cr4 = L1_CR4 & ~CR4.PAE;
      s.cr3 = 0x500000n;
      break;
    case 'unpaged-npt':
      s.efer = EFER.SVME;
      s.cs = { ...s.cs, attrib: 0xc9b };
      s.cr0 = (s.cr0 & ~CR0.PG) & ~CR0.WP;
      s.cr4 = 0n;
      s.cr3 = 0n;
      break;
  }
  // L1 intercepts the instructions its L2 program ends with, so every program exits to L1 —
  // unless the choice drops the VMMCALL intercept: then an L2 VMMCALL must #UD in L2 (and reach L1
  // as #VMEXIT(#UD) when udIntercept is set), never run as L0's hypercall (l2-vmmcall-routing).
  setIntercept(c.intercepts, INTERCEPT.HLT);
  if (b.vmmcallIntercept === false) clrIntercept(c.intercepts, INTERCEPT.VMMCALL);
  if (b.udIntercept === true) setIntercept(c.intercepts, INTERCEPT.EXCEPTION_OFFSET + VEC.UD);
  return {
    arch: 'svm',
    entry: b.entry,
    l1,
    vmcb12,
    l2: b.program.slice(),
    race: null,
    smm: b.entry === 'rsm' ? { vmrun_vmcb12: cloneVmcb(vmcb12), migrate: false } : null,
    nested_state: b.entry === 'set_nested_state' ? { flags: 0x103, gpat: s.g_pat } : null,
  };
}
