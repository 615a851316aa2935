// The property registry, keyed by id (the name users pass to `--property`).
import type { NestfuzzProperty } from './types.ts';
import { property as checkedIsRun } from './svm/checked-is-run.ts';
import { property as entryPathParity } from './svm/entry-path-parity.ts';
import { property as exitRoundtrip } from './svm/exit-roundtrip.ts';
import { property as gifSemantics } from './svm/gif-semantics.ts';
import { property as noWarn } from './svm/no-warn.ts';
import { property as profileEquivalence } from './svm/profile-equivalence.ts';
import { property as setNestedStateConsistent } from './svm/set-nested-state-consistent.ts';
import { property as vmcb02Sanitized } from './svm/vmcb02-sanitized.ts';
import { property as vmrunFailureClean } from './svm/vmrun-failure-clean.ts';
import { property as vmrunVerdictMatchesApm } from './svm/vmrun-verdict-matches-apm.ts';
import { property as l2VmmcallRouting } from './svm/l2-vmmcall-routing.ts';
import { property as nestedCacheSynced } from './svm/nested-cache-synced.ts';
import { property as vmxVmlaunchOutcomeOrder } from './vmx/vmlaunch-outcome-order.ts';
import { property as vmxVmfailNoSideEffects } from './vmx/vmfail-no-side-effects.ts';
import { property as vmxFailedEntryExitExact } from './vmx/failed-entry-exit-exact.ts';
import { property as vmxLaunchState } from './vmx/launch-state.ts';
import { property as vmxExitRoundtrip } from './vmx/vmx-exit-roundtrip.ts';
import { property as vmxEntryPathParity } from './vmx/vmx-entry-path-parity.ts';
import { property as vmxNoWarn } from './vmx/vmx-no-warn.ts';
import { property as vmxX2apicMsrsIntercepted } from './vmx/x2apic-msrs-intercepted.ts';
import { property as vmxPreemptionTimerLifetime } from './vmx/preemption-timer-lifetime.ts';
import { property as vmxVmlaunchVerdictMatchesSdm } from './vmx/vmlaunch-verdict-matches-sdm.ts';
import { property as npfFaultStageExact } from './svm/npf-fault-stage-exact.ts';
import { property as npfAddressFromWalker } from './svm/npf-address-from-walker.ts';
import { property as eptQualNeverStale } from './vmx/ept-qual-never-stale.ts';
import { property as eptGvaBits } from './vmx/ept-gva-bits.ts';
import { property as eptPrevRootsSynced } from './vmx/ept-prev-roots-synced.ts';
import { property as errorCode64bit } from './mmu/error-code-64bit.ts';
import { property as hardwareEmulationParity } from './mmu/hardware-emulation-parity.ts';
import { property as mmuNoWarn } from './mmu/mmu-no-warn.ts';
import { property as walkerMatchesSpec } from './mmu/walker-matches-spec.ts';
import { property as interceptedNeverEmulated } from './mmu/intercepted-never-emulated.ts';
import { property as l2ExitRouting } from './mmu/l2-exit-routing.ts';
import { property as permissionFaultMatchesSdm } from './mmu/permission-fault-matches-sdm.ts';

import { property as privateNeverEmulated } from './mmu/private-never-emulated.ts';
import { property as privateNeverMmioCached } from './mmu/private-never-mmio-cached.ts';
import { property as memoryFaultExitExact } from './mmu/memory-fault-exit-exact.ts';
import { property as syntheticBitsNeverReachGuest } from './mmu/synthetic-bits-never-reach-guest.ts';
import { property as faultErrorCodeExact } from './mmu/fault-error-code-exact.ts';
import { property as legacyPfUpperBitsZero } from './mmu/legacy-pf-upper-bits-zero.ts';
import { property as noslotNeverMapsPfn } from './mmu/noslot-never-maps-pfn.ts';
import { property as asyncPfNeverPrivate } from './mmu/async-pf-never-private.ts';
import { property as l2InternalSlots } from './mmu/l2-internal-slots.ts';
import { property as pageFaultNoWarn } from './mmu/page-fault-no-warn.ts';
export const PROPERTY_LIST: NestfuzzProperty[] = [
  vmrunFailureClean,
  vmrunVerdictMatchesApm,
  gifSemantics,
  checkedIsRun,
  vmcb02Sanitized,
  exitRoundtrip,
  entryPathParity,
  profileEquivalence,
  noWarn,
  setNestedStateConsistent,
  l2VmmcallRouting,
  nestedCacheSynced,
  // nested VMX
  vmxVmlaunchOutcomeOrder,
  vmxVmlaunchVerdictMatchesSdm,
  vmxVmfailNoSideEffects,
  vmxFailedEntryExitExact,
  vmxLaunchState,
  vmxExitRoundtrip,
  vmxEntryPathParity,
  vmxNoWarn,
  vmxX2apicMsrsIntercepted,
  vmxPreemptionTimerLifetime,
  // nested paging and fault synthesis
  eptQualNeverStale,
  npfFaultStageExact,
  npfAddressFromWalker,
  eptGvaBits,
  eptPrevRootsSynced,
  errorCode64bit,
  hardwareEmulationParity,
  walkerMatchesSpec,
  interceptedNeverEmulated,
  l2ExitRouting,
  permissionFaultMatchesSdm,
  mmuNoWarn,
  // KVM MMU page-fault path
  privateNeverEmulated,
  privateNeverMmioCached,
  memoryFaultExitExact,
  syntheticBitsNeverReachGuest,
  faultErrorCodeExact,
  legacyPfUpperBitsZero,
  noslotNeverMapsPfn,
  asyncPfNeverPrivate,
  l2InternalSlots,
  pageFaultNoWarn,
];

export const PROPERTIES: ReadonlyMap<string, NestfuzzProperty> = new Map(PROPERTY_LIST.map((p) => [p.id, p]));

export function getProperty(id: string): NestfuzzProperty | undefined {
  return PROPERTIES.get(id);
}
