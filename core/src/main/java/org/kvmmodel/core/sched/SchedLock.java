package org.kvmmodel.core.sched;

/**
 * A reader-writer lock owned by actors, that the scheduler can see waiting on. An exclusive-only
 * lock (a spinlock or mutex) simply never takes the shared side. Not recursive: acquiring a lock
 * the actor already holds throws, as lockdep would report the deadlock.
 */
public interface SchedLock {

  String name();

  void acquireExclusive();

  void releaseExclusive();

  void acquireShared();

  void releaseShared();

  /** Takes it exclusively if that needs no waiting ({@code folio_trylock}); false otherwise. */
  boolean tryAcquireExclusive();

  /** Takes it shared if that needs no waiting ({@code mmap_read_trylock}); false otherwise. */
  boolean tryAcquireShared();

  /** Whether the calling actor holds it shared. */
  boolean heldShared();

  /** Whether the calling actor holds it exclusively. */
  boolean heldExclusive();

  /** Whether any actor holds it exclusively. */
  boolean isWriteLocked();

  /**
   * Whether another actor is waiting to take it ({@code rwlock_is_contended},
   * {@code spin_is_contended}, which {@code rwlock_needbreak} and {@code spin_needbreak} ask
   * on a preemptible kernel).
   */
  boolean isContended();
}
