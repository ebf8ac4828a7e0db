package org.kvmmodel.core.kvm;

/**
 * {@code kvm->mn_active_invalidate_count} under {@code mn_invalidate_lock}, with the rcuwait a
 * memslot update sleeps on: memslots may not be published while an invalidation is between
 * its start and end callbacks, or the start/end pair would see different slots and leave
 * {@code mmu_invalidate_in_progress} unbalanced.
 */
public final class MnActiveInvalidations {

  private int count;

  /** The increment at the top of {@code kvm_mmu_notifier_invalidate_range_start}. */
  public synchronized void begin() {
    count++;
  }

  /**
   * The decrement at the bottom of {@code kvm_mmu_notifier_invalidate_range_end}, waking a
   * waiting memslot update when the count reaches zero.
   */
  public synchronized void end() {
    if (count == 0) {
      throw new IllegalStateException("mn_active_invalidate_count underflow");
    }
    count--;
    if (count == 0) {
      notifyAll();
    }
  }

  public synchronized int count() {
    return count;
  }

  /**
   * The wait in {@code kvm_swap_active_memslots}; runs {@code publish} under the lock once no
   * invalidation is active, so no new one can start in between.
   */
  public synchronized void publishWhenIdle(Runnable publish) {
    while (count != 0) {
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for mmu_notifier invalidations", e);
      }
    }
    publish.run();
  }
}
