package org.kvmmodel.core.kvm;

import org.kvmmodel.core.sched.Scheduler;

/**
 * {@code kvm->mn_active_invalidate_count} under {@code mn_invalidate_lock}, with the rcuwait a
 * memslot update sleeps on: memslots may not be published while an invalidation is between
 * its start and end callbacks, or the start/end pair would see different slots and leave
 * {@code mmu_invalidate_in_progress} unbalanced. The updater waits at race points, so a
 * deterministic run lets the invalidation finish.
 */
public final class MnActiveInvalidations {

  private final Scheduler scheduler;
  private int count;

  public MnActiveInvalidations(Scheduler scheduler) {
    this.scheduler = scheduler;
  }

  /** The increment at the top of {@code kvm_mmu_notifier_invalidate_range_start}. */
  public synchronized void begin() {
    count++;
  }

  /**
   * The decrement at the bottom of {@code kvm_mmu_notifier_invalidate_range_end}; a memslot
   * update waiting for zero sees it at its next race point (the rcuwait wake-up).
   */
  public synchronized void end() {
    if (count == 0) {
      throw new IllegalStateException("mn_active_invalidate_count underflow");
    }
    count--;
  }

  public synchronized int count() {
    return count;
  }

  /**
   * The wait in {@code kvm_swap_active_memslots}; runs {@code publish} under the lock once no
   * invalidation is active, so no new one can start in between.
   */
  public void publishWhenIdle(Runnable publish) {
    while (true) {
      synchronized (this) {
        if (count == 0) {
          publish.run();
          return;
        }
      }
      scheduler.spinPoint("rcuwait mn_memslots_update");
      Thread.yield();
    }
  }
}
