package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.sched.Scheduler;

/**
 * KVM's side of mmu_notifier invalidation ({@code virt/kvm/kvm_main.c},
 * {@code include/linux/kvm_host.h}): {@code mmu_invalidate_seq},
 * {@code mmu_invalidate_in_progress}, the merged gfn range, and the retry checks a fault makes
 * after taking mmu_lock. The writers require mmu_lock for write; the sequence is bumped before
 * the in-progress count drops, so a reader that sees the count at zero also sees the new
 * sequence. The lockless {@link #retryGfnUnsafe} is a race point between its reads, so
 * a deterministic schedule can start or end an invalidation in the window KVM leaves open there.
 */
public final class MmuInvalidate {

  /** {@code INVALID_GPA}: the "no range yet" sentinel. */
  public static final long INVALID_GFN = -1L;

  private final MmuLock mmuLock;
  private final Scheduler scheduler;
  private volatile long seq;
  private volatile int inProgress;
  private volatile long rangeStart = INVALID_GFN;
  private volatile long rangeEnd = INVALID_GFN;

  public MmuInvalidate(MmuLock mmuLock, Scheduler scheduler) {
    this.mmuLock = mmuLock;
    this.scheduler = scheduler;
  }

  /** {@code kvm_mmu_invalidate_begin}: one more invalidation in progress. */
  public void begin() {
    mmuLock.assertHeldExclusive("kvm_mmu_invalidate_begin");
    inProgress = inProgress + 1;
    if (inProgress == 1) {
      rangeStart = INVALID_GFN;
      rangeEnd = INVALID_GFN;
    }
  }

  /**
   * {@code kvm_mmu_invalidate_range_add}: the first range is taken as is, later ones widen the
   * envelope; it only shrinks when every invalidation has ended.
   */
  public void rangeAdd(long start, long end) {
    mmuLock.assertHeldExclusive("kvm_mmu_invalidate_range_add");
    if (inProgress == 0) {
      throw new IllegalStateException("kvm_mmu_invalidate_range_add outside an invalidation");
    }
    if (rangeStart == INVALID_GFN) {
      rangeStart = start;
      rangeEnd = end;
    } else {
      rangeStart = Math.min(rangeStart, start);
      rangeEnd = Math.max(rangeEnd, end);
    }
  }

  /** {@code kvm_mmu_invalidate_end}: bump the sequence, then drop the in-progress count. */
  public void end() {
    mmuLock.assertHeldExclusive("kvm_mmu_invalidate_end");
    if (rangeStart == INVALID_GFN) {
      throw new IllegalStateException("kvm_mmu_invalidate_end: no range was ever added");
    }
    seq = seq + 1;
    int now = inProgress - 1;
    if (now < 0) {
      throw new IllegalStateException("mmu_invalidate_in_progress went negative");
    }
    inProgress = now;
  }

  /** The current sequence; a volatile read, so it orders like {@code smp_rmb} after it. */
  public long seq() {
    return seq;
  }

  public int inProgress() {
    return inProgress;
  }

  public long rangeStart() {
    return rangeStart;
  }

  public long rangeEnd() {
    return rangeEnd;
  }

  /** {@code mmu_invalidate_retry}: whole VM, no range filtering. */
  public boolean retry(long snapshot) {
    if (inProgress != 0) {
      return true;
    }
    return seq != snapshot;
  }

  /**
   * {@code mmu_invalidate_retry_gfn}: requires mmu_lock; filtered by the merged range. An
   * invalidation in progress with no range added yet is a KVM bug and always retries.
   */
  public boolean retryGfn(long snapshot, long gfn) {
    mmuLock.assertHeld("mmu_invalidate_retry_gfn");
    if (inProgress != 0) {
      if (rangeStart == INVALID_GFN || rangeEnd == INVALID_GFN) {
        return true;
      }
      if (gfn >= rangeStart && gfn < rangeEnd) {
        return true;
      }
    }
    return seq != snapshot;
  }

  /**
   * {@code mmu_invalidate_retry_gfn_unsafe}: the same test without the lock. The in-progress
   * count, the range and the sequence are separate reads another CPU's invalidation can fall
   * between (a race point), so it may answer wrongly either way; only the locked check is
   * authoritative.
   */
  public boolean retryGfnUnsafe(long snapshot, long gfn) {
    int active = inProgress;
    scheduler.point("READ_ONCE mmu_invalidate_in_progress");
    if (active != 0) {
      long start = rangeStart;
      long end = rangeEnd;
      if (start != INVALID_GFN && gfn >= start && gfn < end) {
        return true;
      }
    }
    return seq != snapshot;
  }
}
