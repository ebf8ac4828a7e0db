package org.kvmmodel.core.kvm;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.sched.Scheduler;

/**
 * A VM's active pfn caches: {@code kvm->gpc_list} under the {@code kvm->gpc_lock} spinlock,
 * and {@code gfn_to_pfn_cache_invalidate_start}, which KVM's {@code invalidate_range_start}
 * calls before it takes mmu_lock.
 */
public final class GfnToPfnCaches {

  private final SchedLock gpcLock;
  private final List<GfnToPfnCache> list = new CopyOnWriteArrayList<>();

  public GfnToPfnCaches(Scheduler scheduler) {
    this.gpcLock = scheduler.newLock("gpc_lock");
  }

  void add(GfnToPfnCache gpc) {
    gpcLock.acquireExclusive();
    try {
      list.add(0, gpc);
    } finally {
      gpcLock.releaseExclusive();
    }
  }

  void remove(GfnToPfnCache gpc) {
    gpcLock.acquireExclusive();
    try {
      list.remove(gpc);
    } finally {
      gpcLock.releaseExclusive();
    }
  }

  /** {@code gfn_to_pfn_cache_invalidate_start}: invalidate every cache whose hva is in range. */
  public void invalidateStart(long start, long end) {
    gpcLock.acquireExclusive();
    try {
      for (GfnToPfnCache gpc : list) {
        gpc.invalidate(start, end);
      }
    } finally {
      gpcLock.releaseExclusive();
    }
  }

  /**
   * The caches on the list now, most recently activated first: a lockless snapshot, for checks
   * (which must not take locks the scheduler sees) and for teardown, when no one else runs.
   */
  public List<GfnToPfnCache> active() {
    return List.copyOf(list);
  }
}
