package org.kvmmodel.core.sched;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * Sleepable RCU as {@code kvm->srcu} uses it: memslot readers enter a read section, and an
 * updater that has published new memslots waits in {@link #synchronize()} until every reader
 * that might still see the old ones has left. Two counters and two flips, as classic SRCU
 * does, so a reader that races with the first flip is caught by the second.
 */
public final class Srcu {

  private final Scheduler scheduler;
  private final EventLog log;
  private final AtomicIntegerArray readers = new AtomicIntegerArray(2);
  private final ThreadLocal<int[]> nesting = ThreadLocal.withInitial(() -> new int[1]);
  private volatile int index;
  private long gracePeriods;

  /** SRCU whose grace periods are not reported (the readers' side of {@link Rcu}). */
  public Srcu(Scheduler scheduler) {
    this(scheduler, null);
  }

  /** SRCU reporting each {@link #synchronize()} to {@code log} as a point that sleeps. */
  public Srcu(Scheduler scheduler, EventLog log) {
    this.scheduler = scheduler;
    this.log = log;
  }

  /** {@code srcu_read_lock}: returns the index to hand back to {@link #readUnlock(int)}. */
  public int readLock() {
    scheduler.point("srcu_read_lock");
    int idx = index & 1;
    readers.incrementAndGet(idx);
    nesting.get()[0]++;
    return idx;
  }

  /** {@code srcu_read_unlock}. */
  public void readUnlock(int idx) {
    if (readers.decrementAndGet(idx) < 0) {
      throw new IllegalStateException("srcu_read_unlock without srcu_read_lock");
    }
    nesting.get()[0]--;
    scheduler.point("srcu_read_unlock");
  }

  /** Whether the calling actor is inside a read section ({@code srcu_read_lock_held}). */
  public boolean readLockHeld() {
    return nesting.get()[0] > 0;
  }

  /** {@code synchronize_srcu}: waits for every read section begun before the call to end. */
  public void synchronize() {
    if (log != null) {
      log.emit(Tracepoint.MIGHT_SLEEP, SleepSite.SYNCHRONIZE_SRCU.ordinal(), 0, 0);
    }
    if (readLockHeld()) {
      throw new IllegalStateException("synchronize_srcu inside an SRCU read section: deadlock");
    }
    for (int flip = 0; flip < 2; flip++) {
      int old = index & 1;
      index = old ^ 1;
      while (readers.get(old) != 0) {
        scheduler.spinPoint("synchronize_srcu");
        Thread.yield();
      }
    }
    synchronized (this) {
      gracePeriods++;
    }
  }

  /** How many grace periods have completed. */
  public synchronized long gracePeriods() {
    return gracePeriods;
  }
}
