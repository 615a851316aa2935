// A vmcb12 that every kernel profile accepts, in the spirit of kvm-unit-tests' vmcb_ident(): L2
// runs the same flat 64-bit environment as L1, intercepting VMRUN and VMMCALL, with nested NPT.

import { DR6_ACTIVE_LOW, DR7_FIXED_1, INTERCEPT, INT_CTL, MISC_CTL, PAT_DEFAULT, setIntercept } from '../../../arch/svm/defs.ts';
import { zeroVmcb, type Vmcb } from '../../../arch/svm/vmcb.ts';
import { CS64_ATTRIB, IOPM_GPA, L1_CR0, L1_CR4, L1_EFER, L2_CR3_64, L2_RIP, MSRPM_GPA, NCR3_GPA } from './defaultL1.ts';

export function validVmcb12(): Vmcb {
  const v = zeroVmcb();
  const c = v.control;
  setIntercept(c.intercepts, INTERCEPT.VMRUN);
  setIntercept(c.intercepts, INTERCEPT.VMMCALL);
  c.asid = 1;
  c.iopm_base_pa = IOPM_GPA;
  c.msrpm_base_pa = MSRPM_GPA;
  c.misc_ctl = MISC_CTL.NP_ENABLE;
  c.nested_cr3 = NCR3_GPA;
  c.int_ctl = INT_CTL.V_INTR_MASKING;
  const s = v.save;
  const data = { selector: 0x18, attrib: 0xc93, limit: 0xffffffff, base: 0n };
  s.cs = { selector: 0x10, attrib: CS64_ATTRIB, limit: 0xffffffff, base: 0n };
  s.ss = { ...data };
  s.ds = { ...data };
  s.es = { ...data };
  s.gdtr = { selector: 0, attrib: 0, limit: 0x47, base: 0x1000n };
  s.idtr = { selector: 0, attrib: 0, limit: 0xfff, base: 0x2000n };
  s.efer = L1_EFER;
  s.cr0 = L1_CR0;
  s.cr3 = L2_CR3_64;
  s.cr4 = L1_CR4;
  s.rflags = 0x2n;
  s.rip = L2_RIP;
  s.rsp = 0x700000n;
  s.dr6 = DR6_ACTIVE_LOW;
  s.dr7 = DR7_FIXED_1;
  s.g_pat = PAT_DEFAULT;
  return v;
}
