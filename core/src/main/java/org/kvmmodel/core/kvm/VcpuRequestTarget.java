package org.kvmmodel.core.kvm;

/**
 * A vCPU as {@code kvm_make_all_cpus_request} sees it: set a request, and if the vCPU is in
 * guest mode make it exit and wait until it has, so that it handles the request before it
 * touches guest memory again.
 */
public interface VcpuRequestTarget {

  /** {@code KVM_REQ_TLB_FLUSH}. */
  int KVM_REQ_TLB_FLUSH = 1;

  /** One translation a vCPU's TLB caches, and the level of the leaf it was filled from. */
  @FunctionalInterface
  interface CachedTranslation {
    void visit(long gfn, long pfn, int permissions, int level);
  }

  /** Sets {@code request} and kicks; returns once the vCPU is outside guest mode. */
  void requestAndKick(int request);

  /**
   * Queues the invalidation of the translations of the leaves covering
   * {@code [gfn, gfn + pages)}, which the vCPU applies before it next uses its TLB, and kicks
   * as {@link #requestAndKick} does: once this returns no vCPU in guest mode holds them, the
   * effect of the broadcast invalidation behind {@code kvm_arch_flush_remote_tlbs_range}
   * (queued per vCPU as RISC-V's {@code KVM_REQ_HFENCE} entries are). When the queue is full
   * the vCPU is asked for a whole-TLB flush instead.
   */
  void invalidateRangeAndKick(long gfn, long pages);

  /**
   * Whether the vCPU will drop its translation of {@code gfn}, filled from a leaf at
   * {@code level}, before it next uses its TLB: {@link #KVM_REQ_TLB_FLUSH} is pending, or a
   * queued ranged invalidation covers the leaf. A check counts such a translation as flushed.
   */
  boolean tlbInvalidationPending(long gfn, int level);

  /** The actor name the event log knows this vCPU by. */
  String name();

  /** Whether {@code request} is set and not yet handled ({@code kvm_test_request}). */
  boolean requestPending(int request);

  /**
   * Every translation the vCPU's TLB holds, with the {@code GuestAccess} permissions it was
   * filled with; what the vCPU could use without walking the tables again.
   */
  void forEachCachedTranslation(CachedTranslation visitor);

  /** The pfn the TLB caches for {@code gfn}, or -1. */
  long cachedPfn(long gfn);

  /** The level of the leaf the TLB's translation of {@code gfn} was filled from, or -1. */
  int cachedLevel(long gfn);
}
