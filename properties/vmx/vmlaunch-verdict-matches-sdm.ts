// VMLAUNCH/VMRESUME's verdict equals what the SDM says (vol. 3C §31.3 and ch. 27, as the separate
// declarative model in _sdm/ reads them), except where KVM's difference is listed data in
// _sdm/deviations.ts (each with its reason and source; `--strict-arch` reports those too).

import { vmxCase } from '../../src/arbitraries/vmxScenario.ts';
import { EXIT_REASON_FLAGS } from '../../src/arch/vmx/exit_reasons.ts';
import { VM_ENTRY } from '../../src/arch/vmx/controls.ts';
import type { VmxRunResult } from '../../src/engine/vmx/result.ts';
import { runVmx } from '../../src/engine/vmx/run.ts';
import type { VmxScenario } from '../../src/engine/vmx/scenario.ts';
import { fail, HOLDS, type NestfuzzProperty, type Verdict, type VmxCase } from '../types.ts';
import { deviationsForRule, listedGuestQualDifference, listedOrderDifference, SDM_DEVIATIONS, type Deviation } from './_sdm/deviations.ts';
import { sdmVmlaunch, type SdmJudgement, type SdmVerdict } from './_sdm/vmlaunch_sdm_model.ts';

/** The engine's result in the SDM model's vocabulary ('internal-error' has no SDM counterpart). */
function engineVerdict(r: VmxRunResult): SdmVerdict | { kind: 'internal-error' } {
  switch (r.outcome) {
    case '#UD':
    case '#GP':
      return { kind: r.outcome };
    case 'vmfail-invalid':
      return { kind: 'vmfail-invalid' };
    case 'vmfail-valid':
      return { kind: 'vmfail-valid', error: r.vm_instruction_error ?? -1 };
    case 'entry-failure':
      return { kind: 'exit', reason: ((r.exit_reason ?? 0) & ~EXIT_REASON_FLAGS.FAILED_VMENTRY) as 33 | 34, qual: r.exit_qualification ?? 0n };
    case 'entered':
      return { kind: 'entered' };
    default:
      return { kind: 'internal-error' };
  }
}

function same(a: SdmVerdict | { kind: 'internal-error' }, b: SdmVerdict): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'vmfail-valid' && b.kind === 'vmfail-valid') return a.error === b.error;
  if (a.kind === 'exit' && b.kind === 'exit') return a.reason === b.reason && a.qual === b.qual;
  return true;
}

const describe = (v: SdmVerdict | { kind: 'internal-error' }): string => {
  if (v.kind === 'vmfail-valid') return `vmfail-valid(${v.error})`;
  if (v.kind === 'exit') return `exit ${v.reason} qual 0x${v.qual.toString(16)}`;
  return v.kind;
};

/** The listed KVM difference that explains this disagreement, if any. */
function listed(s: VmxScenario, launch: boolean, r: VmxRunResult, got: ReturnType<typeof engineVerdict>, sdm: SdmJudgement): Deviation | undefined {
  const want = sdm.verdict;
  const kvmRule = r.trace.failedChecks().at(-1) ?? '';
  // L1 pages KVM cannot back: an internal error (APIC-access page) or a deliberate late VMfail 7 (virtual-APIC page).
  if (kvmRule === 'get-vmcs12-pages-apic-access-unmappable' || (r.late_vmfail && r.hardware?.rule === 'hw-ctl-virtual-apic-page')) {
    return SDM_DEVIATIONS.find((d) => d.id === 'unbackable-apic-pages');
  }
  // KVM loads the entry MSR-load list before the CPU's guest-state checks (exit 34 where the SDM says 33).
  if (want.kind === 'exit' && want.reason === 33 && got.kind === 'exit' && got.reason === 34 && sdm.rule) {
    return listedOrderDifference(sdm.rule, kvmRule);
  }
  // Two failing guest-state rules with different qualifications, checked in KVM's order.
  if (want.kind === 'exit' && want.reason === 33 && got.kind === 'exit' && got.reason === 33) return listedGuestQualDifference(s, { launch }, got.qual);
  // DEBUGCTL.FREEZE_WHILE_SMM in the guest field is refused unless the quirk is enabled.
  if (got.kind === 'exit' && kvmRule === 'guest-debugctl-invalid' && (s.vmcs12.vm_entry_controls & VM_ENTRY.LOAD_DEBUG_CONTROLS) !== 0
    && (BigInt.asUintN(64, s.vmcs12.guest_ia32_debugctl) & (1n << 14n)) !== 0n) {
    return SDM_DEVIATIONS.find((d) => d.id === 'guest-debugctl-freeze-in-smm');
  }
  // A rule the SDM model fails on that KVM knowingly does not check (kind 'deviation').
  return sdm.rule ? deviationsForRule(sdm.rule).find((d) => d.kind === 'deviation') : undefined;
}

export const property: NestfuzzProperty<VmxCase> = {
  id: 'vmlaunch-verdict-matches-sdm',
  area: 'vmx',
  title: 'VMLAUNCH/VMRESUME accept/reject (and the failure kind) equals the SDM, up to listed KVM deviations',
  rationale: 'SDM vol. 3C §31.3 (VMLAUNCH/VMRESUME), §27.1–27.4 (checks on controls, host state, guest state; MSR loading); KVM nested_vmx_run and its CC() checks; the separate declarative model in properties/vmx/_sdm/',
  arbitrary: () => vmxCase(),
  predicate(c, ctx): Verdict {
    const s = c.scenario;
    if (s.path === 'set-nested-state') return HOLDS;
    const launch = s.path === 'vmlaunch';
    const r = runVmx(s, ctx.profile);
    const sdm = sdmVmlaunch(s, { launch });
    const got = engineVerdict(r);
    if (same(got, sdm.verdict)) return HOLDS;
    const details = { engine: describe(got), sdm: describe(sdm.verdict), sdm_rule: sdm.rule, kvm_failed_checks: r.trace.failedChecks(), rejected_by: r.rejected_by };
    const dev = listed(s, launch, r, got, sdm);
    if (dev) {
      if (!ctx.strictArch) return HOLDS;
      return fail('listed-deviation', `KVM ${describe(got)}, SDM ${describe(sdm.verdict)} (listed: ${dev.id}: ${dev.reason})`, { ...details, deviation: dev.id });
    }
    return fail('verdict-mismatch', `KVM ${describe(got)}, SDM ${describe(sdm.verdict)} (SDM rule ${sdm.rule ?? 'none'})`, details);
  },
};
