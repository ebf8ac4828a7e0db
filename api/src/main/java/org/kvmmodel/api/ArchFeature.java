package org.kvmmodel.api;

/**
 * Capabilities a plugin declares; suites that need one are skipped on plugins that lack it,
 * never silently passed.
 */
public enum ArchFeature {
  /** A fault path that runs without the mmu_lock notifier protection (x86 fast_page_fault). */
  LOCKLESS_FAST_PATH,
  /** A "fast" path that runs under the mmu_lock spinlock (LoongArch, MIPS). */
  LOCKED_FAST_PATH,
  /** The retry check filters by gfn ({@code mmu_invalidate_retry_gfn}). */
  GFN_RANGED_RETRY,
  /** Huge (block) stage-2 mappings. */
  HUGE_PAGES,
  /** More than one page at the root of the stage-2 table (arm64 and RISC-V concatenation). */
  CONCATENATED_ROOTS,
  /** Hardware-managed accessed bits at stage 2. */
  HARDWARE_ACCESSED,
  /** Hardware-managed dirty bits at stage 2. */
  HARDWARE_DIRTY,
  /** Dirty logging for memslots. */
  DIRTY_LOGGING,
  /** Several roots per VM (x86 TDP MMU). */
  MULTIPLE_ROOTS,
  /**
   * {@code CONFIG_KVM_ELIDE_TLB_FLUSH_IF_YOUNG}: the clear_flush_young notifier does not flush
   * the TLB after aging (x86 selects it).
   */
  ELIDE_TLB_FLUSH_IF_YOUNG,
  /**
   * {@code __KVM_HAVE_ARCH_FLUSH_REMOTE_TLBS_RANGE} with a ranged flush that always succeeds:
   * {@code kvm_flush_remote_tlbs_range} invalidates only the leaves covering the given gfns in
   * every vCPU's TLB (arm64's {@code kvm_tlb_flush_vmid_range}, a broadcast TLBI by IPA).
   * Without it, as on x86 without Hyper-V's enlightenment, the range is flushed as a whole-VM
   * flush.
   */
  RANGED_REMOTE_TLB_FLUSH
}
