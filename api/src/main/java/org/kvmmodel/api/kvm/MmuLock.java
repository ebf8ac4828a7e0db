package org.kvmmodel.api.kvm;

import org.kvmmodel.api.MmuLockKind;

/**
 * {@code kvm->mmu_lock}: an rwlock on x86 and arm64 ({@code KVM_HAVE_MMU_RWLOCK}), a spinlock
 * elsewhere. The lock checks its own discipline like lockdep: taking it twice, releasing it
 * unheld, or taking it for read on a spinlock architecture throws.
 */
public interface MmuLock {

  MmuLockKind kind();

  /** {@code write_lock} or {@code spin_lock}: exclusive. {@code KVM_MMU_LOCK} in common code. */
  void lock();

  /** {@code write_unlock} or {@code spin_unlock}. */
  void unlock();

  /** {@code read_lock}; only on an rwlock. */
  void readLock();

  /** {@code read_unlock}. */
  void readUnlock();

  /**
   * The test of {@code cond_resched_rwlock_write}, {@code cond_resched_rwlock_read} and
   * {@code cond_resched_lock}, for a caller holding the lock: {@code need_resched()}, or
   * another actor waiting for the lock ({@code rwlock_needbreak}, {@code spin_needbreak}).
   */
  boolean needResched();

  /**
   * What those helpers do once their test holds: drop the lock, held in either mode, let
   * others run, and take it again in the same mode. The caller has issued any batched TLB
   * flush first and restarts its walk afterwards, since the tables may have changed.
   */
  void reschedule();

  /** {@code cond_resched_rwlock_write} and friends: reschedules if due; whether it did. */
  default boolean condResched() {
    if (!needResched()) {
      return false;
    }
    reschedule();
    return true;
  }

  /** Whether the calling actor holds the lock in any mode. */
  boolean isHeld();

  /** Whether the calling actor holds it exclusively. */
  boolean isHeldExclusive();

  /** {@code lockdep_assert_held}: throws naming {@code what} if the lock is not held. */
  default void assertHeld(String what) {
    if (!isHeld()) {
      throw new IllegalStateException(what + " requires mmu_lock held");
    }
  }

  /** {@code lockdep_assert_held_write}. */
  default void assertHeldExclusive(String what) {
    if (!isHeldExclusive()) {
      throw new IllegalStateException(what + " requires mmu_lock held for write");
    }
  }
}
