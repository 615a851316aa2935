// The replay view of a permission_fault case: the inputs by name and KVM's answer.

import { describePferr } from '../arch/paging/index.ts';
import { runPermission, type PermissionScenario } from '../engine/mmu/permission_check.ts';
import type { Profile } from '../engine/profiles.ts';

export function renderPermission(s: PermissionScenario, p: Profile): string[] {
  const r = runPermission(s, p);
  const on = (b: boolean, n: string): string => (b ? n : `!${n}`);
  const acc = s.pte_access;
  return [
    `controls: ${[on(s.cr0_wp, 'CR0.WP'), on(s.cr4_smep, 'CR4.SMEP'), on(s.cr4_smap, 'CR4.SMAP'), on(s.cr4_pke, 'CR4.PKE'), on(s.efer_nx, 'EFER.NXE'), on(s.efer_lma, 'EFER.LMA'), on(s.rflags_ac, 'EFLAGS.AC')].join(' ')}`,
    `access (pfec): 0x${s.pfec.toString(16)} (${describePferr(s.pfec).join(' | ') || 'supervisor read'})`,
    `leaf rights: ${[acc & 1 && 'exec', acc & 2 && 'write', acc & 4 && 'user', acc & 8 && 'read'].filter(Boolean).join(' ') || 'none'} (ACC 0x${acc.toString(16)}), pkey ${s.pkey}, PKRU 0x${(s.pkru >>> 0).toString(16)}`,
    `permission_fault: 0x${r.fault.toString(16)} (${r.outcome})`,
  ];
}
