// What the batched shrinker (../shrink.ts) needs from the VMX side: the failure signature a
// candidate must keep, and the states one step simpler than an oracle VMX state (a mutation
// dropped, a variant index lowered to 0, the snippet or EPT choice set to its default).

import { buildOracleVmxCase, ORACLE_VMX_MUTATION_IDS } from '../../arbitraries/oracleVmx.ts';
import { DEFAULT_ORACLE_VMX_CHOICE } from '../../arbitraries/_internals/builders/oracleVmxBase.ts';
import { tableShrinkRules } from '../shrink.ts';
import type { VmxComparison } from './compare.ts';
import type { VmxVerdict } from './verdict.ts';

/**
 * How far VMLAUNCH got, in the order the SDM makes its checks (31.2 / 27.1–27.3): VMfailInvalid,
 * VMfailValid on the VM-execution/entry controls (error 7 and the other instruction errors), on
 * the host state (8), a VM-entry failure on the guest state or MSR loading, L2 entered. Null for
 * outcomes with no place in that order (a crash, a host exception, a failed VMWRITE, KVM-only).
 */
function stage(v: VmxVerdict): number | null {
  switch (v.kind) {
    case 'vmfail-invalid':
      return 0;
    case 'vmfail-valid':
      return v.error === 8 ? 2 : 1;
    case 'entry-failure':
      return 3;
    case 'exit':
    case 'no-exit':
      return 4;
    default:
      return null;
  }
}

/**
 * What must stay the same for a candidate to count as the same failure, "/"-separated like
 * svmFailureSignature. When one side stopped at an earlier stage of VM entry than the other, the
 * failure is that side's check: its verdict is kept exactly (the VM-instruction error of a
 * VMfailValid, the basic exit reason of a VM-entry failure), and of the other side only that it
 * got further — what the later side did next depends on the state's other mutations, which the
 * shrinker must be free to drop (a missed host-state check shows as "exit 33" beside a bad guest
 * field, and as "entered" alone). Otherwise both verdicts are kept, with an exit reason only when
 * both sides exited (when one side failed, what L2 did is incidental and the snippet may shrink).
 * The differing fields always count.
 */
export function vmxFailureSignature(cmp: VmxComparison): string {
  const both = cmp.engine.kind === 'exit' && cmp.emu.kind === 'exit';
  const code = (v: VmxVerdict): string => {
    switch (v.kind) {
      case 'vmfail-valid':
        return `vmfail-valid:${v.error}`;
      case 'entry-failure':
        return `entry-failure:${(v.reason & 0xffff).toString()}`;
      case 'host-exception':
        return `host-exception:${v.vector}`;
      case 'exit':
        return both ? `exit:${v.reason}` : 'exit';
      default:
        return v.kind;
    }
  };
  const se = stage(cmp.engine);
  const sm = stage(cmp.emu);
  const apart = se !== null && sm !== null && se !== sm;
  const engine = apart && se > sm ? 'further' : code(cmp.engine);
  const emu = apart && sm > se ? 'further' : code(cmp.emu);
  return `${engine}/${emu}/${cmp.diff.join(',')}`;
}

/**
 * The signature, and the engine's first failed check unless the engine got further than the
 * emulator: then that check belongs to a later stage and only tells the state's other mutations
 * apart (a missed host-state check is one kind, whatever guest field also fails).
 */
export function vmxBucketKey(cmp: VmxComparison): string {
  const sig = vmxFailureSignature(cmp);
  return sig.startsWith('further/') ? sig : `${sig}|${cmp.engineFailed[0] ?? ''}`;
}

/** Rebuilt from the oracle's own mutation table (a state projected from a project corpus file is not). */
export const vmxShrinkRules = tableShrinkRules(
  { ids: ORACLE_VMX_MUTATION_IDS, defaults: DEFAULT_ORACLE_VMX_CHOICE, build: buildOracleVmxCase },
  { signature: vmxFailureSignature, bucketKey: vmxBucketKey },
);
