package org.kvmmodel.core.trace;

/**
 * The points at which the model's KVM and host code may sleep ({@code might_sleep()} or an
 * allocation with a blocking GFP mask), reported as {@link Tracepoint#MIGHT_SLEEP} with the
 * site's ordinal, so that LOCK-DISCIPLINE can judge what the actor holds there.
 */
public enum SleepSite {
  /** {@code hva_to_pfn}, which annotates every path as sleeping (GUP may fault and do IO). */
  HVA_TO_PFN("hva_to_pfn"),
  /** {@code mmap_read_lock} / {@code mmap_write_lock}: {@code down_read} / {@code down_write}. */
  MMAP_LOCK("mmap_lock"),
  /** {@code kvm_mmu_topup_memory_cache} allocating with {@code GFP_KERNEL_ACCOUNT}. */
  MMU_TOPUP_MEMORY_CACHE("kvm_mmu_topup_memory_cache"),
  /** {@code synchronize_srcu_expedited(&kvm->srcu)} when memslots are swapped. */
  SYNCHRONIZE_SRCU("synchronize_srcu"),
  /** {@code synchronize_rcu}. */
  SYNCHRONIZE_RCU("synchronize_rcu");

  private static final SleepSite[] VALUES = values();

  private final String kernelName;

  SleepSite(String kernelName) {
    this.kernelName = kernelName;
  }

  public String kernelName() {
    return kernelName;
  }

  /** The site an event's payload names. */
  public static SleepSite of(long ordinal) {
    return VALUES[(int) ordinal];
  }
}
