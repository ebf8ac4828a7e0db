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
