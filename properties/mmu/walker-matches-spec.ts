// KVM's two-dimensional walk (walk_addr_generic with nested NPT/EPT translation) equals a separately
// written declarative page-walk predicate over the APM / SDM (_spec/walk_spec.ts, sharing no code with
// the engine): the same translation, or the same fault with the same error code / qualification and
// address. Where KVM knowingly differs from the architecture the difference is listed data
// (_spec/deviations.ts) and reported only under --strict-arch.

import { nestedFaultCase } from '../../src/arbitraries/nestedFault.ts';
import { accessBits } from '../../src/engine/mmu/nested_fault.ts';
import { PFERR, type PhysMem } from '../../src/engine/mmu/types.ts';
import { walk_addr_generic, type WalkResult } from '../../src/engine/mmu/walker.ts';
import { Trace } from '../../src/engine/trace.ts';
import { fail, HOLDS, type NestedFaultCase, type NestfuzzProperty, type Verdict } from '../types.ts';
import { deviation } from './_spec/deviations.ts';
import { applyAdUpdates, specWalk, type SpecWalk } from './_spec/walk_spec.ts';
import { hex } from './_lib.ts';

const PAGE = ~0xfffn;

interface Diff {
  what: string;
  kvm: string;
  arch: string;
  /** The listed deviation that explains it, if any. */
  listed?: string;
}

function describeKvm(r: WalkResult, flavour: 'svm' | 'vmx'): string {
  if (r.ok) return `ok gpa ${hex(r.gpa)}`;
  if (!r.fault.nested_page_fault) return `#PF ec ${hex(r.fault.error_code & 0xffffn)} addr ${hex(r.fault.address)}`;
  if (flavour === 'vmx') return (r.fault.error_code & PFERR.RSVD) !== 0n ? `ept-misconfig ${r.stage}` : `ept-violation ${r.stage} qual ${hex(r.fault.exit_qualification & 0x1ffn)}`;
  return `npf ${r.stage} ec ${hex(r.fault.error_code & 0x1fn)}`;
}

function describeSpec(s: SpecWalk): string {
  if (s.ok) return `ok gpa ${hex(s.gpa)}`;
  switch (s.kind) {
    case 'pf': return `#PF ec ${hex(s.error_code)} addr ${hex(s.address)} (${s.rule})`;
    case 'npf': return `npf nested-${s.stage} ec ${hex(s.error_code & 0x1fn)} (${s.rule})`;
    case 'ept-violation': return `ept-violation nested-${s.stage} qual ${hex(s.qual)} (${s.rule})`;
    case 'ept-misconfig': return `ept-misconfig nested-${s.stage} (${s.rule})`;
  }
}

/** KVM's nested fault on a table page was a permission (write) fault, not a missing or reserved entry. */
function tablePermissionFault(kvm: WalkResult & { ok: false }, flavour: 'svm' | 'vmx'): boolean {
  if ((kvm.fault.error_code & PFERR.RSVD) !== 0n) return false;
  if (flavour === 'svm') return (kvm.fault.error_code & PFERR.PRESENT) !== 0n;
  return (kvm.fault.exit_qualification & 0x38n) !== 0n;
}

function compare(c: NestedFaultCase, kvm: WalkResult, kvmMem: PhysMem, arch: SpecWalk, kvmChecks: readonly string[]): Diff | null {
  const s = c.scenario;
  const k = describeKvm(kvm, s.flavour);
  const a = describeSpec(arch);
  const diff = (what: string, listed?: string): Diff => ({ what, kvm: k, arch: a, ...(listed ? { listed } : {}) });
  if (kvm.ok && arch.ok) {
    if (kvm.gpa !== arch.gpa || kvm.real_gpa !== arch.real_gpa) return diff('translation');
    // The accessed/dirty flags both walks set (order is not architectural).
    const mem: PhysMem = { words: { ...s.mem.words }, ram_top: s.mem.ram_top };
    applyAdUpdates(mem, arch.ad_updates);
    for (const key of new Set([...Object.keys(mem.words), ...Object.keys(kvmMem.words)])) {
      if ((mem.words[key] ?? 0n) !== (kvmMem.words[key] ?? 0n)) return diff(`A/D flags at ${key}`, 'paging-structure-access-as-write');
    }
    return null;
  }
  // A table outside L1's memslots: KVM's walk errors (not present), the bus reads all ones for the CPU.
  if (kvmChecks.includes('walk-no-memslot') || kvmChecks.includes('nested-no-memslot')) return diff('outcome (table outside memory)', 'unbacked-table-read');
  // Nested PML is not in the architectural oracle: a walk KVM failed because L1's log is full.
  if (!kvm.ok && kvm.fault.pml_full) return diff('outcome (PML log full)', 'pml-not-modelled');
  // PAE under NPT: the CPU re-reads each PDPTE through the nested tables; KVM uses its PDPTE registers.
  if (s.guest.pdptrs.length && s.tdp.kind === 'npt' && !arch.ok && arch.kind === 'npf' && arch.stage === 'page' && (arch.gpa & PAGE) === (s.guest.cr3 & PAGE)) {
    const same = !kvm.ok && kvm.stage === 'nested-page' && (kvm.fault.address & PAGE) === (arch.gpa & PAGE);
    if (!same) return diff('outcome', 'pae-pdptes-under-npt');
  }
  // A read-only L1 mapping of an L2 table page: KVM write-checks every paging-structure access, the CPU
  // reads (and writes only to set A/D), so the walks can part at that table whatever follows.
  if (!kvm.ok && kvm.stage === 'nested-page' && tablePermissionFault(kvm, s.flavour)) {
    const same = !arch.ok && (arch.kind === 'npf' || arch.kind === 'ept-violation') && arch.stage === 'page';
    if (!same || (kvm.fault.address & PAGE) !== (arch.gpa & PAGE)) return diff('outcome', 'paging-structure-access-as-write');
  }
  if (kvm.ok !== arch.ok) {
    // KVM write-checks every paging-structure access against L1's tables; the CPU only writes to set A/D.
    if (!kvm.ok && kvm.stage === 'nested-page') return diff('outcome', 'paging-structure-access-as-write');
    if (s.guest.pdptrs.length && s.tdp.kind === 'npt' && !arch.ok && arch.kind === 'npf' && arch.stage === 'page') return diff('outcome', 'pae-pdptes-under-npt');
    return diff('outcome');
  }
  if (kvm.ok || arch.ok) return null;
  // Both fault.
  if (!kvm.fault.nested_page_fault) {
    if (arch.kind !== 'pf') return diff('fault kind');
    const ek = kvm.fault.error_code & 0xffffn;
    if (ek !== arch.error_code) {
      if ((ek ^ arch.error_code) === PFERR.FETCH) return diff('#PF error code FETCH', 'pferr-fetch-bit');
      if ((ek ^ arch.error_code) === PFERR.PK) return diff('#PF error code PK', 'pk-with-other-fault');
      return diff('#PF error code');
    }
    if (kvm.fault.address !== arch.address) return diff('#PF address');
    return null;
  }
  const stage = kvm.stage === 'nested-page' ? 'page' : 'final';
  if (s.flavour === 'svm') {
    if (arch.kind !== 'npf') return diff('fault kind', stage === 'page' && arch.kind === 'pf' && s.guest.pdptrs.length ? 'pae-pdptes-under-npt' : undefined);
    if (arch.stage !== stage) return diff('#NPF stage', s.guest.pdptrs.length ? 'pae-pdptes-under-npt' : undefined);
    const ek = kvm.fault.error_code & 0x1fn;
    const ea = arch.error_code & 0x1fn;
    if (ek !== ea) {
      if ((ek ^ ea) === PFERR.WRITE && stage === 'page') return diff('#NPF error code W', 'npf-page-stage-write-bit');
      if ((ek ^ ea) === PFERR.FETCH) return diff('#NPF error code ID', 'npf-fetch-bit');
      return diff('#NPF error code');
    }
    if ((kvm.fault.address & PAGE) !== (arch.gpa & PAGE)) return diff('#NPF GPA');
    if (kvm.fault.address !== arch.gpa) return diff('#NPF GPA offset', 'fault-gpa-page-aligned');
    return null;
  }
  const rsvd = (kvm.fault.error_code & PFERR.RSVD) !== 0n;
  if (rsvd !== (arch.kind === 'ept-misconfig')) return diff('EPT fault kind');
  if (arch.kind !== 'ept-violation' && arch.kind !== 'ept-misconfig') return diff('EPT fault kind');
  if (arch.stage !== stage) return diff('EPT fault stage');
  if (arch.kind === 'ept-violation') {
    const qk = kvm.fault.exit_qualification & 0x1ffn;
    if (qk !== arch.qual) {
      if (stage === 'page' && ((qk ^ arch.qual) & ~3n) === 0n) return diff('qualification access bits of a paging-structure access', 'ept-qual-page-write-bits');
      return diff('qualification');
    }
  }
  if ((kvm.fault.address & PAGE) !== (arch.gpa & PAGE)) return diff('EPT GPA');
  if (kvm.fault.address !== arch.gpa) return diff('EPT GPA offset', 'fault-gpa-page-aligned');
  return null;
}

export const property: NestfuzzProperty<NestedFaultCase> = {
  id: 'walker-matches-spec',
  area: 'mmu',
  title: 'KVM\'s nested two-dimensional walk equals the APM/SDM page-walk predicate, up to listed deviations',
  rationale: 'SDM vol. 3A §4.3–4.7, vol. 3C §29.3; APM vol. 2 §5, §15.25; KVM paging_tmpl.h walk_addr_generic, translate_nested_gpa (spec vmx-mmu.md §4); the separate declarative oracle in properties/mmu/_spec/',
  arbitrary: () => nestedFaultCase({ programs: 'never' }),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    const mem: PhysMem = { words: { ...s.mem.words }, ram_top: s.mem.ram_top };
    const access = accessBits(s.guest, s.access);
    const t = new Trace();
    const kvm = walk_addr_generic({ t, p: ctx.profile, mem }, s.guest, s.tdp, s.access.gva, access);
    const arch = specWalk(s.mem, s.guest, s.tdp, s.access.gva, { write: s.access.write, fetch: s.access.fetch, user: s.guest.cpl === 3 && !s.access.implicit, implicit: s.access.implicit });
    const d = compare(c, kvm, mem, arch, t.failedChecks());
    if (!d) return HOLDS;
    const dev = d.listed ? deviation(d.listed) : undefined;
    if (dev && !ctx.strictArch) return HOLDS;
    return fail(dev ? 'listed-deviation' : 'walk-mismatch', `${d.what}: KVM ${d.kvm}, architecture ${d.arch}${dev ? ` (listed: ${dev.id})` : ''}`, { what: d.what, kvm: d.kvm, arch: d.arch, listed: dev?.id ?? null });
  },
};
