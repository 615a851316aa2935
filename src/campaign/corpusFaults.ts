// Shape checks for the issue #6 scenarios read back from corpus files: a permission_fault check
// ('mmu-perm') and a fault through the MMU page-fault path ('mmu-pf').

import { bigintFields, booleanFields, integerFields, isObject, type Json } from './jsonShape.ts';

export function permissionScenarioProblem(s: Json, at: string): string | null {
  return booleanFields(s, at, ['cr0_wp', 'cr4_smep', 'cr4_smap', 'cr4_pke', 'efer_nx', 'efer_lma', 'rflags_ac'])
    ?? bigintFields(s, at, ['pfec'])
    ?? integerFields(s, at, ['pte_access', 'pkey', 'pkru']);
}

const VM_TYPES = ['default', 'sw-protected', 'snp'];
const ENTRIES = ['pf-intercept', 'npf', 'ept-violation'];
const INTERNAL = [null, 'apic-access', 'tss', 'identity-map'];
const BACKING = ['ok', 'hwpoison', 'error'];

const isBigintArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'bigint');

export function pageFaultScenarioProblem(s: Json, at: string): string | null {
  if (!VM_TYPES.includes(s.vm_type as string)) return `${at}.vm_type is ${JSON.stringify(s.vm_type)}, expected one of ${VM_TYPES.join(', ')}`;
  if (!ENTRIES.includes(s.entry as string)) return `${at}.entry is ${JSON.stringify(s.entry)}, expected one of ${ENTRIES.join(', ')}`;
  const p = bigintFields(s, at, ['hw_error_code', 'ept_qual', 'address', 'max_gfn'])
    ?? booleanFields(s, at, ['mmio_caching', 'guest_mode', 'apicv_active', 'async_pf', 'invalidation_race']);
  if (p !== null) return p;
  for (const k of ['private_gfns', 'mmio_sptes', 'async_pf_pending']) if (!isBigintArray(s[k])) return `${at}.${k} is not an array of bigints`;
  if (!Array.isArray(s.memslots)) return `${at}.memslots is not an array`;
  for (let i = 0; i < s.memslots.length; i++) {
    const m = s.memslots[i] as unknown;
    const mat = `${at}.memslots[${i}]`;
    if (!isObject(m)) return `${mat} is not an object`;
    const mp = integerFields(m, mat, ['id']) ?? bigintFields(m, mat, ['base_gfn', 'npages']) ?? booleanFields(m, mat, ['guest_memfd', 'readonly', 'invalid', 'swapped_out']);
    if (mp !== null) return mp;
    if (!INTERNAL.includes(m.internal as string | null)) return `${mat}.internal is ${JSON.stringify(m.internal)}, expected null, "apic-access", "tss" or "identity-map"`;
    if (!BACKING.includes(m.backing as string)) return `${mat}.backing is ${JSON.stringify(m.backing)}, expected "ok", "hwpoison" or "error"`;
  }
  return null;
}
