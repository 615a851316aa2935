// "The launch state gates VMLAUNCH and VMRESUME": VMLAUNCH of a launched VMCS fails with 4 and
// VMRESUME of a clear one with 5 whenever no earlier gate (#UD/#GP, VMfailInvalid, MOV-SS 26)
// stops the instruction; a VMLAUNCH/VMRESUME whose L2 exits to L1 leaves the VMCS launched, a
// failed entry or a VMfail leaves the launch state as it was; from the state after an exit,
// VMLAUNCH fails with 4 and VMRESUME enters; VMCLEAR makes the VMCS clear again so VMLAUNCH
// passes the launch gate.

import { VMCS12_REVISION } from '../../src/arch/vmx/vmcs12.ts';
import { Trace } from '../../src/engine/trace.ts';
import { handle_vmclear, handle_vmptrld } from '../../src/engine/vmx/instructions.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import { cloneVmxScenario, cloneVmxL1, type VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { newVmcsRegion, newVmxVcpu } from '../../src/engine/vmx/vcpu.ts';
import { cloneVmcs12 } from '../../src/arch/vmx/vmcs12.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import type { Profile } from '../../src/engine/profiles.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';

/** An earlier gate than the launch state stopped the instruction. */
function earlierGate(r: VmxRunResult): boolean {
  return r.outcome === '#UD' || r.outcome === '#GP' || r.outcome === 'vmfail-invalid' || (r.outcome === 'vmfail-valid' && r.vm_instruction_error === 26);
}

function variant(s: VmxScenario, path: 'vmlaunch' | 'vmresume', launch: 'clear' | 'launched'): VmxScenario {
  const v = cloneVmxScenario(s);
  v.path = path;
  v.launch_state = launch;
  return v;
}

/** The scenario L1 is in after run `r` of `s` (same memory, registers, vmcs12 and launch state). */
function afterScenario(s: VmxScenario, r: VmxRunResult): VmxScenario {
  const v = cloneVmxScenario(s);
  v.l1 = cloneVmxL1(r.after.l1);
  v.vmcs12 = cloneVmcs12(r.after.vmcs12);
  v.launch_state = r.after.launch_state;
  v.mem = { ...r.after.mem };
  v.after = 'none';
  return v;
}

/** VMCLEAR of the current VMCS then VMPTRLD of it again, on a vCPU holding the region; the launch state it has then. */
function launchedAfterVmclear(s: VmxScenario, r: VmxRunResult, p: Profile): boolean | string {
  const gpa = s.current_vmptr;
  const v = newVmxVcpu({ caps: s.caps, maxphyaddr: s.guest.maxphyaddr, vmx: {
    vmxon: true, vmxon_ptr: s.l1.vmxon_ptr, current_vmptr: gpa,
    cached_vmcs12: newVmcsRegion({ vmcs12: cloneVmcs12(r.after.vmcs12), revision_id: VMCS12_REVISION, launch_state: r.after.launch_state === 'launched' }),
  } });
  const ctx = { v, t: new Trace(), p };
  const cl = handle_vmclear(ctx, { gpa });
  if (cl.outcome !== 'vmsucceed') return `VMCLEAR of the current VMCS: ${cl.outcome}`;
  const ld = handle_vmptrld(ctx, { gpa });
  if (ld.outcome !== 'vmsucceed') return `VMPTRLD after VMCLEAR: ${ld.outcome}`;
  return v.vmx.cached_vmcs12?.launch_state ?? 'no current VMCS after VMPTRLD';
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'launch-state',
  area: 'vmx',
  title: 'the launch state gates VMLAUNCH (4) and VMRESUME (5), is set by an exit from L2 and cleared by VMCLEAR',
  rationale: 'SDM vol.3C §31.3 VMLAUNCH/VMRESUME ("launch state of current VMCS is not clear/launched" ⇒ VMfailValid 4/5), VMCLEAR, §28.1; KVM nested.c nested_vmx_run (vmcs12->launch_state vs launch), prepare_vmcs12 (launch_state = 1 unless FAILED_VMENTRY), handle_vmclear',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    if (s.path === 'set-nested-state') return HOLDS;
    const p = ctx.profile;

    // The gate itself, with path and launch state varied.
    for (const [path, launch, err] of [['vmlaunch', 'launched', 4], ['vmresume', 'clear', 5]] as const) {
      const rv = runVmx(variant(s, path, launch), p);
      if (earlierGate(rv)) continue;
      if (rv.outcome !== 'vmfail-valid' || rv.vm_instruction_error !== err) {
        return fail('launch-gate', `${path.toUpperCase()} of a ${launch} VMCS: ${rv.outcome}${rv.vm_instruction_error !== null ? ` (${rv.vm_instruction_error})` : ''}, expected VMfailValid(${err})`, { path, launch });
      }
    }

    const r = runVmx(s, p);
    const b = r.before.launch_state, a = r.after.launch_state;
    if (r.outcome === 'entered' && r.l2_exit !== null) {
      if (a !== 'launched') return fail('not-launched-after-exit', `launch state ${a} after ${s.path} and an exit from L2`);
    } else if (r.outcome !== 'entered' && a !== b) {
      return fail('launch-state-changed', `launch state ${b} → ${a} after ${r.outcome}`, { outcome: r.outcome });
    }

    // From the state after an exit: VMLAUNCH → 4, VMRESUME enters; VMCLEAR makes VMLAUNCH pass the gate.
    if (r.outcome === 'entered' && r.l2_exit !== null && !r.after.triple_fault && s.after === 'none') {
      const next = afterScenario(s, r);
      const again = runVmx(variant(next, 'vmlaunch', next.launch_state), p);
      if (!earlierGate(again) && (again.outcome !== 'vmfail-valid' || again.vm_instruction_error !== 4)) {
        return fail('relaunch-not-4', `VMLAUNCH after an exit from L2: ${again.outcome} (${again.vm_instruction_error}), expected VMfailValid(4)`);
      }
      const resumed = runVmx(variant(next, 'vmresume', next.launch_state), p);
      if (resumed.outcome !== 'entered') {
        return fail('resume-fails', `VMRESUME after an exit from L2: ${resumed.outcome} (${resumed.vm_instruction_error ?? resumed.exit_reason}; ${resumed.trace.failedChecks().join(', ')})`, { failed: resumed.trace.failedChecks() });
      }
      const launched = launchedAfterVmclear(s, r, p);
      if (typeof launched === 'string') return fail('vmclear-failed', launched);
      if (launched) return fail('vmclear-keeps-launched', 'VMCLEAR then VMPTRLD: the VMCS is still launched');
      const fresh = runVmx(variant(next, 'vmlaunch', 'clear'), p);
      if (fresh.trace.failedChecks().includes('vmlaunch-nonclear-vmcs') || (fresh.outcome === 'vmfail-valid' && fresh.vm_instruction_error === 4)) {
        return fail('vmclear-launch-gate', 'VMLAUNCH after VMCLEAR still fails the launch gate');
      }
    }
    return HOLDS;
  },
};
