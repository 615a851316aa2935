// runPageFault: one fault through KVM's MMU page-fault path; pure, total and deterministic.

import { profileDropped, type Profile } from '../../profiles.ts';
import { Trace } from '../../trace.ts';
import { step, type PfCtx } from './ctx.ts';
import { entryErrorCode, kvm_mmu_page_fault } from './page_fault.ts';
import type { PageFaultResult } from './result.ts';
import type { PageFaultScenario } from './scenario.ts';

export function runPageFault(s: PageFaultScenario, p: Profile): PageFaultResult {
  const res: PageFaultResult = {
    trace: new Trace(profileDropped(p)), outcome: '', error_code_in: null, error_code_handled: null, fault: null, ret: null, errno: 0,
    exit: null, spte: null, mmio_cached: null, emulated: false, async_pf: null, path: [],
  };
  const ctx: PfCtx = { t: res.trace, p, s, res };
  step(ctx, `${s.entry} at ${'0x' + BigInt.asUintN(64, s.address).toString(16)} on a ${s.vm_type} VM${s.guest_mode ? ' (L2 running)' : ''}`);
  const ec = entryErrorCode(ctx);
  const r = kvm_mmu_page_fault(ctx, BigInt.asUintN(64, s.address), ec);
  if (typeof r === 'number') {
    res.errno = r;
    res.outcome = r === -14 ? 'efault' : 'eio';
  } else {
    res.ret = r;
    if (r === 'RET_PF_EMULATE') {
      res.emulated = true;
      res.trace.emit('x86_emulate_instruction', { gpa: s.address });
      step(ctx, 'x86_emulate_instruction');
    }
    res.outcome = r.replace('RET_PF_', '').toLowerCase();
  }
  return res;
}
