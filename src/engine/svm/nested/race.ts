// A write to vmcb12 by another L1 vCPU (the scenario's RaceWrite), landing in guest memory
// between KVM's first read of vmcb12 and its use. Paths name VMCB fields ('control.asid',
// 'control.intercepts[4]', 'save.efer', 'save.cs.attrib').

import type { Vmcb } from '../../../arch/svm/vmcb.ts';
import type { Ctx } from '../ctx.ts';
import type { RaceWrite } from '../scenario.ts';

export function setVmcbPath(vmcb: Vmcb, path: string, value: bigint | number): boolean {
  const m = /^(control|save)\.([a-z0-9_]+)(?:\[(\d+)\]|\.([a-z_]+))?$/.exec(path);
  if (!m) return false;
  const area = (m[1] === 'control' ? vmcb.control : vmcb.save) as unknown as Record<string, unknown>;
  const cur = area[m[2]];
  if (cur === undefined) return false;
  if (m[3] !== undefined) {
    if (!Array.isArray(cur)) return false;
    const i = Number(m[3]);
    if (i >= cur.length) return false;
    cur[i] = Number(value) >>> 0;
    return true;
  }
  if (m[4] !== undefined) {
    const seg = cur as Record<string, unknown>;
    if (typeof seg !== 'object' || seg === null || !(m[4] in seg)) return false;
    seg[m[4]] = typeof seg[m[4]] === 'bigint' ? BigInt(value) : Number(value);
    return true;
  }
  area[m[2]] = typeof cur === 'bigint' ? BigInt(value) : Number(value) >>> 0;
  return true;
}

export function applyRace(ctx: Ctx, vmcb12: Vmcb, race: RaceWrite): void {
  const ok = setVmcbPath(vmcb12, race.path, race.value);
  ctx.t.emit('l1_vcpu_race_write', { path: race.path, value: race.value, applied: ok });
}
