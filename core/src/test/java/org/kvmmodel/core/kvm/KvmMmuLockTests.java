package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.EventLog;

class KvmMmuLockTests {

  @Test
  void spinlockHasNoReadSide() {
    KvmMmuLock lock = new KvmMmuLock(MmuLockKind.SPINLOCK, FreeScheduler.INSTANCE, new EventLog(16));
    IllegalStateException e = assertThrows(IllegalStateException.class, lock::readLock);
    assertEquals("read_lock on mmu_lock, which is a spinlock on this arch", e.getMessage());
    lock.lock();
    assertTrue(lock.isHeldExclusive());
    lock.unlock();
    assertFalse(lock.isHeld());
  }

  @Test
  void recursionIsADeadlock() {
    KvmMmuLock lock = new KvmMmuLock(MmuLockKind.RWLOCK, FreeScheduler.INSTANCE, new EventLog(16));
    lock.readLock();
    IllegalStateException e = assertThrows(IllegalStateException.class, lock::lock);
    assertEquals("write_lock of mmu_lock already held by this actor: deadlock", e.getMessage());
    assertTrue(lock.isHeld());
    assertFalse(lock.isHeldExclusive());
    lock.readUnlock();
    assertEquals(1, lock.acquisitions());
  }

  @Test
  void unlockingAnUnheldLockIsCaught() {
    KvmMmuLock lock = new KvmMmuLock(MmuLockKind.RWLOCK, FreeScheduler.INSTANCE, new EventLog(16));
    assertThrows(IllegalStateException.class, lock::unlock);
    assertThrows(IllegalStateException.class, lock::readUnlock);
  }
}
