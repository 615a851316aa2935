// One-line decode of a paging-structure entry for replay views: flag names in bit order, then the
// address the entry points at (next table or page frame), then multi-bit fields.
// "P RW US A PS addr=0x40000000 NX pkey=3". Decodes the layout only; legality is not judged.

import { EPTE, PTE32, PTE64, bits, levelName } from './formats.ts';

const hex = (v: bigint): string => '0x' + v.toString(16);

function flags(v: bigint, table: readonly [string, bigint][]): string[] {
  return table.filter(([, m]) => (v & m) !== 0n).map(([n]) => n);
}

/**
 * `kind`: '32' (32-bit paging, u32 entries), '64' (PAE / 4-/5-level / NPT), 'ept'. `level` 1 = PTE.
 * Bit 7 reads as PS above level 1 and as PAT at level 1; a 64-bit PML4E/PML5E with bit 7 is shown as
 * PS too (it is reserved there).
 */
export function describeEntry(kind: '32' | '64' | 'ept', value: bigint, level: number): string {
  const v = BigInt.asUintN(kind === '32' ? 32 : 64, value);
  const parts: string[] = [];
  if (kind === 'ept') {
    const large = level > 1 && (v & EPTE.PS) !== 0n;
    parts.push(...flags(v, [['R', EPTE.R], ['W', EPTE.W], ['X', EPTE.X]]));
    if (level === 1 || large) {
      parts.push(`mt=${(v & EPTE.MEMTYPE_MASK) >> EPTE.MEMTYPE_SHIFT}`);
      if ((v & EPTE.IPAT) !== 0n) parts.push('IPAT');
    } else if ((v & EPTE.RSVD_NONLEAF) !== 0n) {
      parts.push(`rsvd6:3=${hex((v & EPTE.RSVD_NONLEAF) >> 3n)}`);
    }
    parts.push(...flags(v, [['PS', level > 1 ? EPTE.PS : 0n], ['A', EPTE.A], ['D', EPTE.D], ['UX', EPTE.UX]]));
    const addrMask = large ? (level === 3 ? EPTE.ADDR_1G_MASK : EPTE.ADDR_2M_MASK) : EPTE.ADDR_MASK;
    parts.push(`addr=${hex(v & addrMask)}`);
    if ((v & EPTE.SVE) !== 0n) parts.push('SVE');
    const ign = v & bits(62, 52);
    if (ign !== 0n) parts.push(`hi62:52=${hex(ign >> 52n)}`);
    return `${levelName(kind, level)} ${parts.join(' ')}`;
  }
  const E = kind === '32' ? PTE32 : PTE64;
  const large = level > 1 && (v & E.PS) !== 0n;
  parts.push(...flags(v, [
    ['P', E.P], ['RW', E.RW], ['US', E.US], ['PWT', E.PWT], ['PCD', E.PCD], ['A', E.A], ['D', E.D],
    ['PS', level > 1 ? E.PS : 0n], ['PAT', level === 1 ? E.PAT_4K : large ? E.PAT_LARGE : 0n], ['G', E.G],
  ]));
  if (kind === '32') {
    if (large) {
      const hi = (v & PTE32.PSE36_MASK) >> PTE32.PSE36_SHIFT;
      parts.push(`addr=${hex((v & PTE32.ADDR_4M_MASK) | (hi << 32n))}`);
      if ((v & PTE32.PSE_RSVD_21) !== 0n) parts.push('rsvd21');
    } else {
      parts.push(`addr=${hex(v & PTE32.ADDR_MASK)}`);
    }
    return `${levelName(kind, level)} ${parts.join(' ')}`;
  }
  const addrMask = large ? (level === 3 ? PTE64.ADDR_1G_MASK : PTE64.ADDR_2M_MASK) : PTE64.ADDR_MASK;
  parts.push(`addr=${hex(v & addrMask)}`);
  if (large) {
    const low = v & (level === 3 ? PTE64.RSVD_1G_LOW : PTE64.RSVD_2M_LOW);
    if (low !== 0n) parts.push(`rsvd-low=${hex(low)}`);
  }
  if ((v & PTE64.NX) !== 0n) parts.push('NX');
  const pkey = (v & PTE64.PKEY_MASK) >> PTE64.PKEY_SHIFT;
  if (pkey !== 0n) parts.push(`pkey=${pkey}`);
  const avl = v & bits(58, 52);
  if (avl !== 0n) parts.push(`hi58:52=${hex(avl >> 52n)}`);
  return `${levelName(kind, level)} ${parts.join(' ')}`;
}
