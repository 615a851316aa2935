// "L2 is entered, by VMLAUNCH or by KVM_SET_NESTED_STATE, only from a vmcs12 that passes the
// controls, host-state and guest-state checks" (spec vmx-mmu.md §2.2, §2.7): the same vmcs12 gets the
// same verdict from these three groups on both paths, with the same failing check ids. What
// SET_NESTED_STATE knowingly does not check (the instruction gates, the address-space size, the
// MSR-load list, vmx_guest_state_valid/PDPTEs at entry time, the APIC-access page) and the header
// checks only it makes are data (_data/known.ts); such cases hold, and --strict-arch reports them.

import { VMX_CONTROL_CHECK_IDS } from '../../src/engine/vmx/nested/checks_controls.ts';
import { VMX_GUEST_CHECK_IDS } from '../../src/engine/vmx/nested/checks_guest.ts';
import { VMX_HOST_CHECK_IDS } from '../../src/engine/vmx/nested/checks_host.ts';
import { VMX_SET_NESTED_STATE_CHECK_IDS } from '../../src/engine/vmx/nested_state.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import { cloneVmxScenario, type VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { PATH_DIFFERENCES } from './_data/known.ts';

const ADDR_SPACE = 'host-addr-space-size-lma-mismatch';
/** The compared groups: nested_vmx_check_controls, nested_vmx_check_host_state, nested_vmx_check_guest_state, and nested_vmx_load_cr3's legality check (both paths). */
const GROUP_IDS = new Set<string>([...VMX_CONTROL_CHECK_IDS, ...VMX_HOST_CHECK_IDS.filter((id) => id !== ADDR_SPACE), ...VMX_GUEST_CHECK_IDS, 'load-cr3-illegal']);
const SNS_HEADER_IDS = new Set(VMX_SET_NESTED_STATE_CHECK_IDS);

const groupFailures = (r: VmxRunResult): string[] => r.trace.failedChecks().filter((id) => GROUP_IDS.has(id));

/** The listed difference a VMLAUNCH result falls under (its verdict is not comparable), or null. */
function listedVmlaunch(r: VmxRunResult): string | null {
  const failed = r.trace.failedChecks();
  if (r.outcome === '#UD' || r.outcome === '#GP' || r.outcome === 'vmfail-invalid') return 'sns-no-instruction-gates';
  if (r.outcome === 'vmfail-valid' && (r.vm_instruction_error === 26 || r.vm_instruction_error === 4 || r.vm_instruction_error === 5)) return 'sns-no-instruction-gates';
  if (failed.includes(ADDR_SPACE)) return 'sns-no-address-space-size';
  if (r.outcome === 'internal-error') return 'sns-pages-deferred';
  if (failed.some((id) => id.startsWith('entry-msr-load-')) || (r.outcome === 'entry-failure' && ((r.exit_reason ?? 0) & 0xffff) === 34)) return 'sns-no-msr-load-list';
  if (failed.includes('prepare-vmcs02-guest-state-invalid') || failed.includes('load-cr3-pdptes-invalid')) return 'sns-no-guest-state-valid-or-pdptes';
  return null;
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmx-entry-path-parity',
  area: 'vmx',
  title: 'vmcs12\'s controls, host-state and guest-state checks give the same verdict through VMLAUNCH and KVM_SET_NESTED_STATE',
  rationale: 'SDM vol.3C §27.2-27.3; KVM nested.c nested_vmx_run vs vmx_set_nested_state → nested_vmx_check_restored_vmcs12 (nested_vmx_check_controls, _host_state, _guest_state) and nested_vmx_enter_non_root_mode(from_vmentry = false); spec vmx-mmu.md §2.7',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const viaLaunch: VmxScenario = cloneVmxScenario(c.scenario);
    viaLaunch.path = 'vmlaunch';
    viaLaunch.launch_state = 'clear';
    const viaSns: VmxScenario = cloneVmxScenario(c.scenario);
    viaSns.path = 'set-nested-state';
    viaSns.nested_state = { guest_mode: true, run_pending: true };
    const rl = runVmx(viaLaunch, ctx.profile);
    const rs = runVmx(viaSns, ctx.profile);

    const launchIds = groupFailures(rl);
    const snsIds = groupFailures(rs);
    const launchRejects = launchIds.length > 0;
    const snsRejects = rs.outcome === 'einval' && snsIds.length > 0;

    const listed = listedVmlaunch(rl) ?? (rs.trace.failedChecks().some((id) => SNS_HEADER_IDS.has(id)) ? 'sns-header-checks' : null);
    if (listed !== null) {
      const differ = launchRejects !== snsRejects || (rl.outcome !== 'entered') !== (rs.outcome !== 'entered');
      if (ctx.strictArch && differ) {
        const d = PATH_DIFFERENCES[listed];
        return fail('listed-path-difference', `VMLAUNCH ${rl.outcome} vs SET_NESTED_STATE ${rs.outcome}: ${d.id}`, { deviation: d.id, source: d.source, launch: rl.trace.failedChecks(), sns: rs.trace.failedChecks() });
      }
      return HOLDS;
    }

    if (launchRejects !== snsRejects) {
      return fail('verdict-differs', `VMLAUNCH ${launchRejects ? `rejects (${launchIds.join(', ')})` : `accepts (${rl.outcome})`}, SET_NESTED_STATE ${snsRejects ? `rejects (${snsIds.join(', ')})` : `accepts (${rs.outcome})`}`, { launch: rl.trace.failedChecks(), sns: rs.trace.failedChecks() });
    }
    if (launchRejects && launchIds.join(',') !== snsIds.join(',')) {
      return fail('failed-checks-differ', `both reject, for different checks: VMLAUNCH ${launchIds.join(', ')}, SET_NESTED_STATE ${snsIds.join(', ')}`, { launch: launchIds, sns: snsIds });
    }
    // A VMLAUNCH rejection must be one of the group outcomes: VMfail 7/8 or KVM's exit 33.
    if (launchRejects) {
      const ok = (rl.outcome === 'vmfail-valid' && (rl.vm_instruction_error === 7 || rl.vm_instruction_error === 8) && !rl.late_vmfail)
        || (rl.outcome === 'entry-failure' && rl.rejected_by === 'kvm' && ((rl.exit_reason ?? 0) & 0xffff) === 33);
      if (!ok) return fail('launch-rejection-outcome', `VMLAUNCH failed ${launchIds.join(', ')} but its outcome is ${rl.outcome}`, { outcome: rl.outcome });
    }
    return HOLDS;
  },
};
