package org.kvmmodel.core.kvm;

import java.util.concurrent.atomic.LongAdder;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * {@code kvm->mmu_lock} as {@code virt/kvm/kvm_mm.h} picks it: an rwlock where the arch defines
 * {@code KVM_HAVE_MMU_RWLOCK}, else a spinlock (exclusive only). It is made by the scheduler,
 * so acquiring and releasing it are race points and a deterministic run decides who waits.
 * Neither Linux lock is recursive; taking it again while holding it is reported as the
 * deadlock it would be.
 */
public final class KvmMmuLock implements MmuLock {

  private final MmuLockKind kind;
  private final SchedLock lock;
  private final LongAdder acquisitions = new LongAdder();
  private final EventLog log;

  public KvmMmuLock(MmuLockKind kind, Scheduler scheduler, EventLog log) {
    this.kind = kind;
    this.lock = scheduler.newLock("mmu_lock");
    this.log = log;
  }

  @Override
  public MmuLockKind kind() {
    return kind;
  }

  @Override
  public void lock() {
    checkNotHeld(kind == MmuLockKind.RWLOCK ? "write_lock" : "spin_lock");
    lock.acquireExclusive();
    acquisitions.increment();
    log.emit(Tracepoint.MMU_LOCK, 1, 0, 0);
  }

  @Override
  public void unlock() {
    if (!lock.heldExclusive()) {
      throw new IllegalStateException(
          (kind == MmuLockKind.RWLOCK ? "write_unlock" : "spin_unlock") + " of mmu_lock not held");
    }
    log.emit(Tracepoint.MMU_UNLOCK, 1, 0, 0);
    lock.releaseExclusive();
  }

  @Override
  public void readLock() {
    if (kind != MmuLockKind.RWLOCK) {
      throw new IllegalStateException("read_lock on mmu_lock, which is a spinlock on this arch");
    }
    checkNotHeld("read_lock");
    lock.acquireShared();
    acquisitions.increment();
    log.emit(Tracepoint.MMU_LOCK, 0, 0, 0);
  }

  @Override
  public void readUnlock() {
    if (kind != MmuLockKind.RWLOCK || !lock.heldShared()) {
      throw new IllegalStateException("read_unlock of mmu_lock not held for read");
    }
    log.emit(Tracepoint.MMU_UNLOCK, 0, 0, 0);
    lock.releaseShared();
  }

  @Override
  public boolean isHeld() {
    return lock.heldShared() || lock.heldExclusive();
  }

  @Override
  public boolean isHeldExclusive() {
    return lock.heldExclusive();
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
