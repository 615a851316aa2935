// The GVA bits of a synthesized nested EPT violation (SDM vol. 3C §29.3.3.2, Table 29-7): bit 7
// (guest-linear address valid) is set, bit 8 is 1 iff the access was to the translated address
// (0 for a paging-structure access), bits 9–11 are 0 (KVM cannot know them for a fault it found
// itself), and bits 0–2 name the access: exactly the access type for the final translation; for a
// paging-structure access, read, plus write exactly when KVM's walker checked it as a write (always,
// since guest paging has A/D). 96b067b59ad9; the old walker set "read" for every nested access.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { EPT_VIOLATION } from '../../src/arch/vmx/eptp.ts';
import { runNestedFault } from '../../src/engine/mmu/nested_fault.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { hex } from '../mmu/_lib.ts';

const Q = EPT_VIOLATION;

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'ept-gva-bits',
  area: 'mmu',
  title: 'a synthesized EPT violation has GVA_IS_VALID, GVA_TRANSLATED iff the final translation failed, bits 9–11 clear, and the exact access bits',
  rationale: 'SDM vol. 3C §29.3.3.2 (EPT-violation exit qualification); KVM walk_addr_generic and nested_ept_inject_page_fault (96b067b59ad9); spec vmx-mmu.md §3.2, §6 #1 and #21',
  arbitrary: () => nestedFaultCase({ flavour: 'vmx' }),
  predicate(c, ctx): Verdict {
    const r = runNestedFault(c.scenario, ctx.profile);
    const inj = r.injected_vmx;
    if (!inj || inj.reason !== 48 || r.injected_from_hardware !== false || r.walk.ok) return HOLDS;
    const q = inj.qual;
    const bit = (b: number): boolean => (q & BigInt(b)) !== 0n;
    const page = r.walk.stage === 'nested-page';
    // The access whose walk failed (an emulated INS stores to ES:RDI, OUTS loads from DS:RSI, …).
    const a = r.fault_access ?? { write: false, fetch: false };
    const wantAccess = page ? Q.ACC_READ | Q.ACC_WRITE : a.write ? Q.ACC_WRITE : a.fetch ? Q.ACC_INSTR : Q.ACC_READ;
    const problems: string[] = [];
    if (!bit(Q.GVA_IS_VALID)) problems.push('GVA_IS_VALID clear');
    if (bit(Q.GVA_TRANSLATED) === page) problems.push(`GVA_TRANSLATED ${page ? 'set for a paging-structure access' : 'clear for the final access'}`);
    if ((q & BigInt(Q.GVA_USER | Q.GVA_WRITABLE | Q.GVA_NX)) !== 0n) problems.push('bits 9-11 set on a synthesized fault');
    if ((q & 7n) !== BigInt(wantAccess)) problems.push(`access bits ${hex(q & 7n)}, expected ${hex(wantAccess)}`);
    if (problems.length) return fail('ept-gva-bits', `qualification ${hex(q)}: ${problems.join('; ')}`, { qual: q, stage: r.walk.stage });
    return HOLDS;
  },
};
