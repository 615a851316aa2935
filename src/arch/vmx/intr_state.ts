// The guest interruptibility-state field (SDM vol. 3C §25.4.2, Table 25-3; KVM asm/vmx.h
// GUEST_INTR_STATE_*): what blocks events at VM entry. Bits 31:5 are reserved.

export const INTR_STATE = {
  /** 0: blocking by STI. */
  STI: 1,
  /** 1: blocking by MOV SS (or POP SS). */
  MOV_SS: 2,
  /** 2: blocking by SMI. */
  SMI: 4,
  /** 3: blocking by NMI; virtual-NMI blocking when the "virtual NMIs" control is 1. */
  NMI: 8,
} as const;
