// vmcs12's guest segment registers read by name without building field names at run time (the
// engine reads them on every VM entry; a template-string lookup per field was a hot spot).

import type { Vmcs12 } from './vmcs12.ts';

export type GuestSegName = 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'ldtr' | 'tr';

export interface GuestSegFields {
  selector: number;
  base: bigint;
  limit: number;
  ar_bytes: number;
}

export function guestSegment(v: Vmcs12, n: GuestSegName): GuestSegFields {
  switch (n) {
    case 'es': return { selector: v.guest_es_selector, base: v.guest_es_base, limit: v.guest_es_limit, ar_bytes: v.guest_es_ar_bytes };
    case 'cs': return { selector: v.guest_cs_selector, base: v.guest_cs_base, limit: v.guest_cs_limit, ar_bytes: v.guest_cs_ar_bytes };
    case 'ss': return { selector: v.guest_ss_selector, base: v.guest_ss_base, limit: v.guest_ss_limit, ar_bytes: v.guest_ss_ar_bytes };
    case 'ds': return { selector: v.guest_ds_selector, base: v.guest_ds_base, limit: v.guest_ds_limit, ar_bytes: v.guest_ds_ar_bytes };
    case 'fs': return { selector: v.guest_fs_selector, base: v.guest_fs_base, limit: v.guest_fs_limit, ar_bytes: v.guest_fs_ar_bytes };
    case 'gs': return { selector: v.guest_gs_selector, base: v.guest_gs_base, limit: v.guest_gs_limit, ar_bytes: v.guest_gs_ar_bytes };
    case 'ldtr': return { selector: v.guest_ldtr_selector, base: v.guest_ldtr_base, limit: v.guest_ldtr_limit, ar_bytes: v.guest_ldtr_ar_bytes };
    case 'tr': return { selector: v.guest_tr_selector, base: v.guest_tr_base, limit: v.guest_tr_limit, ar_bytes: v.guest_tr_ar_bytes };
  }
}
