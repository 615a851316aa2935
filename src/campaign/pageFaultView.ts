// The replay view of a page-fault case (issue #6 §6): the VM and its memslots, the hardware error
// code and the one KVM acted on with every bit named, the fault path step by step, and what it
// ended in (RET_PF_* or errno, the KVM_EXIT_MEMORY_FAULT fields, the SPTE, the MMIO cache, async PF,
// and the kvm_page_fault's pfn / hva).

import { describePferr } from '../arch/paging/index.ts';
import { runPageFault } from '../engine/mmu/page_fault/run.ts';
import { KVM_HVA_ERR_BAD, KVM_PFN_ERR_FAULT, KVM_PFN_ERR_HWPOISON, KVM_PFN_NOSLOT } from '../engine/mmu/page_fault/result.ts';
import type { PageFaultScenario } from '../engine/mmu/page_fault/scenario.ts';
import type { Profile } from '../engine/profiles.ts';

const hex = (v: bigint | number): string => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const bits = (ec: bigint): string => `${hex(ec)} (${describePferr(ec).join(' | ') || 'none'})`;

function pfnName(pfn: bigint): string {
  if (pfn === KVM_PFN_ERR_FAULT) return 'KVM_PFN_ERR_FAULT';
  if (pfn === KVM_PFN_ERR_HWPOISON) return 'KVM_PFN_ERR_HWPOISON';
  if (pfn === KVM_PFN_NOSLOT) return 'KVM_PFN_NOSLOT';
  return hex(pfn);
}

export function pageFaultSetup(s: PageFaultScenario): string[] {
  const out = [
    `${s.vm_type} VM, ${s.entry}${s.guest_mode ? ', L2 running (guest mode)' : ''}, APICv ${s.apicv_active ? 'active' : 'inactive'}`,
    s.entry === 'ept-violation' ? `exit qualification ${hex(s.ept_qual)}` : `hardware error code ${bits(s.hw_error_code)}`,
    `address ${hex(s.address)} (gfn ${hex(BigInt.asUintN(64, s.address) >> 12n)})`,
  ];
  for (const m of s.memslots) {
    const flags = [m.guest_memfd && 'guest_memfd', m.readonly && 'readonly', m.internal && `internal ${m.internal}`, m.invalid && 'INVALID', m.backing !== 'ok' && `backing ${m.backing}`, m.swapped_out && 'swapped out'].filter(Boolean);
    out.push(`memslot ${m.id}: gfn ${hex(m.base_gfn)}+${hex(m.npages)}${flags.length ? ` (${flags.join(', ')})` : ''}`);
  }
  if (s.memslots.length === 0) out.push('no memslots');
  out.push(`private gfns: ${s.private_gfns.length ? s.private_gfns.map(hex).join(', ') : 'none'}`);
  out.push(`MMIO caching ${s.mmio_caching ? 'on' : 'off'}, MMIO SPTEs: ${s.mmio_sptes.length ? s.mmio_sptes.map(hex).join(', ') : 'none'}, max gfn ${hex(s.max_gfn)}`);
  out.push(`async PF ${s.async_pf ? 'enabled' : 'disabled'}${s.async_pf_pending.length ? `, pending for ${s.async_pf_pending.map(hex).join(', ')}` : ''}${s.invalidation_race ? '; an mmu_notifier invalidation races with the fault' : ''}`);
  return out;
}

export function renderPageFault(s: PageFaultScenario, p: Profile): string[] {
  const r = runPageFault(s, p);
  const out = ['-- fault path'];
  out.push(...r.path.map((x, i) => `${i + 1}. ${x}`));
  out.push('');
  if (r.error_code_in !== null) out.push(`error code into kvm_mmu_page_fault: ${bits(r.error_code_in)}`);
  if (r.error_code_handled !== null) out.push(`error code acted on:              ${bits(r.error_code_handled)}`);
  out.push(`result: ${r.errno ? `errno ${r.errno}` : r.ret}${r.emulated ? ', emulated' : ''}`);
  if (r.exit) out.push(`KVM_EXIT_MEMORY_FAULT: gpa ${hex(r.exit.gpa)} size ${hex(r.exit.size)} flags ${hex(r.exit.flags)}${r.exit.flags & 8n ? ' (PRIVATE)' : ''}`);
  if (r.spte) out.push(`SPTE: gfn ${hex(r.spte.gfn)} ${r.spte.kind === 'mmio' ? 'MMIO' : `-> pfn ${pfnName(r.spte.pfn)}${r.spte.writable ? '' : ' read-only'}`}`);
  if (r.mmio_cached) out.push(`MMIO info cached: gfn ${hex(r.mmio_cached.gfn)}, gva ${hex(r.mmio_cached.gva)}`);
  if (r.async_pf) out.push(`async PF queued: gfn ${hex(r.async_pf.gfn)}, error code ${bits(r.async_pf.error_code)}`);
  if (r.fault) {
    const f = r.fault;
    out.push(`kvm_page_fault: slot ${f.slot ?? 'none'}, pfn ${pfnName(f.pfn)}, hva ${f.hva === KVM_HVA_ERR_BAD ? 'KVM_HVA_ERR_BAD' : hex(f.hva)}, ${f.is_private ? 'private' : 'shared'}${f.map_writable ? ', writable' : ''}`);
  }
  const warns = r.trace.warns();
  if (warns.length) out.push(`WARN: ${warns.join(', ')}`);
  return out;
}
