// What every modelled KVM function receives: the vCPU, the trace and the kernel profile.
import type { Profile } from '../profiles.ts';
import type { Trace } from '../trace.ts';
import type { SvmVcpu } from '../vcpu.ts';

export interface Ctx {
  v: SvmVcpu;
  t: Trace;
  p: Profile;
}
