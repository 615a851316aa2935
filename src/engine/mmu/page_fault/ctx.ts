// The state one page fault threads through KVM's functions, and the lookups they share.

import type { Profile } from '../../profiles.ts';
import type { Trace } from '../../trace.ts';
import type { PageFaultResult } from './result.ts';
import type { Memslot, PageFaultScenario } from './scenario.ts';

export interface PfCtx {
  t: Trace;
  p: Profile;
  s: PageFaultScenario;
  res: PageFaultResult;
}

export function step(ctx: PfCtx, line: string): void {
  ctx.res.path.push(line);
}

/** gfn_to_memslot (KVM's own internal slots included). */
export function gfn_to_memslot(s: PageFaultScenario, gfn: bigint): Memslot | null {
  return s.memslots.find((m) => gfn >= m.base_gfn && gfn < m.base_gfn + m.npages) ?? null;
}

/** kvm_mem_is_private: the gfn's attributes say private (only VMs with private memory have any). */
export function kvm_mem_is_private(s: PageFaultScenario, gfn: bigint): boolean {
  return s.vm_type !== 'default' && s.private_gfns.includes(gfn);
}

/** The host pfn / hva backing a gfn of a slot (each slot is backed contiguously). */
export function slotPfn(m: Memslot, gfn: bigint): bigint {
  return 0x100000n + BigInt(m.id) * 0x100000n + (gfn - m.base_gfn);
}
export function slotHva(m: Memslot, gfn: bigint): bigint {
  return 0x7f0000000000n + (BigInt(m.id) << 32n) + ((gfn - m.base_gfn) << 12n);
}
