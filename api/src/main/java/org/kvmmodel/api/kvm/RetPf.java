package org.kvmmodel.api.kvm;

/**
 * The outcomes of an x86 page fault handler ({@code enum RET_PF_*} in
 * {@code arch/x86/kvm/mmu/mmu_internal.h}), in the kernel's order. Other architectures return
 * 0 or a negative errno; they use {@link Errno} instead.
 */
public enum RetPf {
  /** Keep going: the fault is not handled yet. */
  CONTINUE,
  /** Let the vCPU re-enter the guest and fault again. */
  RETRY,
  /** Emulate the faulting instruction. */
  EMULATE,
  /** The gfn is write-tracked; emulate and possibly unprotect. */
  WRITE_PROTECTED,
  /** The fast path could not handle it; take the slow path. */
  INVALID,
  /** The fault installed or fixed a mapping. */
  FIXED,
  /** Nothing needed doing: another vCPU or a stale TLB entry. */
  SPURIOUS
}
