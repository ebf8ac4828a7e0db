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
  private final Scheduler scheduler;

  public KvmMmuLock(MmuLockKind kind, Scheduler scheduler, EventLog log) {
    this.kind = kind;
    this.lock = scheduler.newLock("mmu_lock");
    this.log = log;
    this.scheduler = scheduler;
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
    release(true, 0);
  }

  private void release(boolean exclusive, long resched) {
    if (exclusive && !lock.heldExclusive()) {
      throw new IllegalStateException(
          (kind == MmuLockKind.RWLOCK ? "write_unlock" : "spin_unlock") + " of mmu_lock not held");
    }
    if (!exclusive && (kind != MmuLockKind.RWLOCK || !lock.heldShared())) {
      throw new IllegalStateException("read_unlock of mmu_lock not held for read");
    }
    log.emit(Tracepoint.MMU_UNLOCK, exclusive ? 1 : 0, resched, 0);
    if (exclusive) {
      lock.releaseExclusive();
    } else {
      lock.releaseShared();
    }
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
    release(false, 0);
  }

  @Override
  public boolean needResched() {
    return lock.isContended() || scheduler.needResched();
  }

  /**
   * The unlock is traced with {@code resched} set, so checks can tell a yield from the end of
   * a critical section; then the actor goes behind the others, as {@code schedule()} puts it.
   */
  @Override
  public void reschedule() {
    boolean exclusive = lock.heldExclusive();
    if (!exclusive && !lock.heldShared()) {
      throw new IllegalStateException("cond_resched of mmu_lock not held");
    }
    release(exclusive, 1);
    scheduler.spinPoint("cond_resched mmu_lock");
    if (exclusive) {
      lock();
    } else {
      readLock();
    }
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
