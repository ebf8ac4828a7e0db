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
