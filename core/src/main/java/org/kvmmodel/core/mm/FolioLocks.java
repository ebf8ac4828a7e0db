package org.kvmmodel.core.mm;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.sched.Scheduler;

/**
 * The folio locks of one host ({@code PG_locked} with {@code folio_lock}, {@code folio_trylock}
 * and {@code folio_unlock}): a sleeping, exclusive lock per folio. Linux keeps the bit in the
 * folio's flags and parks waiters on a hashed wait queue; here a folio that is locked, or waited
 * for, has a lock made by the scheduler, so that a deterministic run sees every acquisition as
 * a race point and a wait as blocking (a cycle through folio locks is a deadlock it reports).
 * Only those folios have one: the table holds as many locks as folios are locked or contended
 * at once, and an entry goes away when its last holder or waiter leaves.
 */
final class FolioLocks {

  private final Scheduler scheduler;
  private final Map<Long, Entry> table = new HashMap<>();

  FolioLocks(Scheduler scheduler) {
    this.scheduler = scheduler;
  }

  /** One folio's lock and the actors holding or waiting for it. */
  private static final class Entry {
    final SchedLock lock;
    int users;

    Entry(SchedLock lock) {
      this.lock = lock;
    }
  }

  /** folio_lock of the folio whose head is {@code head}: sleeps until it is free. */
  void lock(long head) {
    Entry e = enter(head);
    try {
      e.lock.acquireExclusive();
    } catch (RuntimeException t) {
      leave(head, e);
      throw t;
    }
  }

  /** folio_trylock: takes the lock only if it is free. */
  boolean trylock(long head) {
    scheduler.point("folio_trylock");
    Entry e = enter(head);
    if (e.lock.tryAcquireExclusive()) {
      return true;
    }
    leave(head, e);
    return false;
  }

  /** folio_unlock: the caller holds the lock. */
  void unlock(long head) {
    Entry e;
    synchronized (table) {
      e = table.get(head);
    }
    if (e == null || !e.lock.heldExclusive()) {
      throw new IllegalStateException(
          String.format(Locale.US, "folio_unlock of folio 0x%x not locked by this actor", head));
    }
    e.lock.releaseExclusive();
    leave(head, e);
  }

  /** folio_test_locked: whether any actor holds the lock of the folio at {@code head}. */
  boolean isLocked(long head) {
    synchronized (table) {
      Entry e = table.get(head);
      return e != null && e.lock.isWriteLocked();
    }
  }

  /** Whether the calling actor holds the lock of the folio at {@code head}. */
  boolean heldByMe(long head) {
    Entry e;
    synchronized (table) {
      e = table.get(head);
    }
    return e != null && e.lock.heldExclusive();
  }

  private Entry enter(long head) {
    synchronized (table) {
      Entry e = table.get(head);
      if (e == null) {
        e = new Entry(scheduler.newLock(String.format(Locale.US, "folio_lock 0x%x", head)));
        table.put(head, e);
      }
      e.users++;
      return e;
    }
  }

  private void leave(long head, Entry e) {
    synchronized (table) {
      if (--e.users == 0) {
        table.remove(head);
      }
    }
  }
}
