package org.kvmmodel.core.kvm;

import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.MmuLock;

/**
 * {@code kvm->mmu_lock} as {@code virt/kvm/kvm_mm.h} picks it: an rwlock where the arch defines
 * {@code KVM_HAVE_MMU_RWLOCK}, else a spinlock. Neither Linux lock is recursive, so taking it
 * again while holding it is reported as the deadlock it would be.
 */
public final class KvmMmuLock implements MmuLock {

  private final MmuLockKind kind;
  private final ReentrantReadWriteLock rwlock;
  private final ReentrantLock spinlock;
  private final LongAdder acquisitions = new LongAdder();

  public KvmMmuLock(MmuLockKind kind) {
    this.kind = kind;
    this.rwlock = kind == MmuLockKind.RWLOCK ? new ReentrantReadWriteLock() : null;
    this.spinlock = kind == MmuLockKind.SPINLOCK ? new ReentrantLock() : null;
  }

  @Override
  public MmuLockKind kind() {
    return kind;
  }

  @Override
  public void lock() {
    checkNotHeld(kind == MmuLockKind.RWLOCK ? "write_lock" : "spin_lock");
    if (rwlock != null) {
      rwlock.writeLock().lock();
    } else {
      spinlock.lock();
    }
    acquisitions.increment();
  }

  @Override
  public void unlock() {
    if (!isHeldExclusive()) {
      throw new IllegalStateException(
          (kind == MmuLockKind.RWLOCK ? "write_unlock" : "spin_unlock") + " of mmu_lock not held");
    }
    if (rwlock != null) {
      rwlock.writeLock().unlock();
    } else {
      spinlock.unlock();
    }
  }

  @Override
  public void readLock() {
    if (rwlock == null) {
      throw new IllegalStateException("read_lock on mmu_lock, which is a spinlock on this arch");
    }
    checkNotHeld("read_lock");
    rwlock.readLock().lock();
    acquisitions.increment();
  }

  @Override
  public void readUnlock() {
    if (rwlock == null || rwlock.getReadHoldCount() == 0) {
      throw new IllegalStateException("read_unlock of mmu_lock not held for read");
    }
    rwlock.readLock().unlock();
  }

  @Override
  public boolean isHeld() {
    return rwlock != null
        ? rwlock.getReadHoldCount() > 0 || rwlock.isWriteLockedByCurrentThread()
        : spinlock.isHeldByCurrentThread();
  }

  @Override
  public boolean isHeldExclusive() {
    return rwlock != null ? rwlock.isWriteLockedByCurrentThread() : spinlock.isHeldByCurrentThread();
  }

  /** How many times the lock was taken, in any mode. */
  public long acquisitions() {
    return acquisitions.sum();
  }

  private void checkNotHeld(String op) {
    if (isHeld()) {
      throw new IllegalStateException(op + " of mmu_lock already held by this actor: deadlock");
    }
  }
}
