package org.kvmmodel.core.sched;

import java.util.ArrayList;
import java.util.List;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * RCU as KVM's MMU relies on it: lockless walkers (the x86 fast page fault, arm64's shared
 * walkers) run inside read sections, and page-table pages unlinked by an updater are freed by a
 * callback ({@code call_rcu}) only after a grace period, that is after every read section that
 * might still see them has ended. Grace periods advance when {@link #synchronize()} or
 * {@link #barrier()} runs; until then callbacks wait, which is always legal for RCU.
 */
public final class Rcu {

  private final Srcu readers;
  private final List<Runnable> pending = new ArrayList<>();
  private final EventLog log;
  private long gracePeriods;
  private long started;

  /** RCU reporting the start and end of each grace period to {@code log}. */
  public Rcu(Scheduler scheduler, EventLog log) {
    this.readers = new Srcu(scheduler);
    this.log = log;
  }

  /** {@code rcu_read_lock}; returns the index for {@link #readUnlock(int)}. */
  public int readLock() {
    return readers.readLock();
  }

  /** {@code rcu_read_unlock}. */
  public void readUnlock(int idx) {
    readers.readUnlock(idx);
  }

  /** Whether the calling actor is inside a read section. */
  public boolean readLockHeld() {
    return readers.readLockHeld();
  }

  /** {@code call_rcu}: run {@code callback} after the next full grace period. */
  public synchronized void callRcu(Runnable callback) {
    pending.add(callback);
  }

  /** Callbacks waiting for a grace period. */
  public synchronized int pendingCallbacks() {
    return pending.size();
  }

  /** {@code synchronize_rcu}: wait for a grace period; callbacks queued before it run. */
  public void synchronize() {
    List<Runnable> due;
    long gp;
    synchronized (this) {
      due = new ArrayList<>(pending);
      pending.clear();
      gp = ++started;
    }
    log.emit(Tracepoint.RCU_GRACE_PERIOD_START, gp, 0, 0);
    readers.synchronize();
    synchronized (this) {
      gracePeriods++;
    }
    log.emit(Tracepoint.RCU_GRACE_PERIOD_END, gp, 0, 0);
    for (Runnable callback : due) {
      callback.run();
    }
  }

  /** {@code rcu_barrier}: every callback queued so far has run when this returns. */
  public void barrier() {
    synchronize();
  }

  /** Completed grace periods. */
  public synchronized long gracePeriods() {
    return gracePeriods;
  }
}
