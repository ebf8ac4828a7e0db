package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.trace.EventLog;

class MmuInvalidateTests {

  private final KvmMmuLock lock = new KvmMmuLock(MmuLockKind.RWLOCK, FreeScheduler.INSTANCE, new EventLog(16));
  private final MmuInvalidate inv = new MmuInvalidate(lock, FreeScheduler.INSTANCE);

  private void locked(Runnable r) {
    lock.lock();
    try {
      r.run();
    } finally {
      lock.unlock();
    }
  }

  @Test
  void endBumpsSequenceSoAnOldSnapshotRetries() {
    long snap = inv.seq();
    locked(() -> {
      inv.begin();
      inv.rangeAdd(10, 20);
    });
    assertTrue(inv.retry(snap), "in progress");
    locked(inv::end);
    assertEquals(snap + 1, inv.seq());
    assertTrue(inv.retry(snap), "sequence moved");
    assertFalse(inv.retry(inv.seq()));
  }

  @Test
  void gfnRetryFiltersByTheMergedRange() {
    long snap = inv.seq();
    locked(() -> {
      inv.begin();
      inv.rangeAdd(100, 110);
      inv.begin();
      inv.rangeAdd(200, 210);
    });
    lock.readLock();
    try {
      assertTrue(inv.retryGfn(snap, 150), "inside the envelope [100, 210)");
      assertTrue(inv.retryGfn(snap, 100));
      assertFalse(inv.retryGfn(snap, 210), "end is exclusive");
      assertFalse(inv.retryGfn(snap, 99));
    } finally {
      lock.readUnlock();
    }
    assertTrue(inv.retry(snap), "the whole-VM check ignores the range");
    locked(inv::end);
    assertEquals(1, inv.inProgress());
    assertEquals(100, inv.rangeStart(), "the envelope only shrinks when all end");
    lock.readLock();
    try {
      assertTrue(inv.retryGfn(snap, 5), "sequence moved, so every gfn retries");
      assertTrue(inv.retryGfn(inv.seq(), 205), "still inside an in-progress range");
      assertFalse(inv.retryGfn(inv.seq(), 5));
    } finally {
      lock.readUnlock();
    }
  }

  @Test
  void gfnRetryAssertsMmuLock() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> inv.retryGfn(inv.seq(), 1));
    assertEquals("mmu_invalidate_retry_gfn requires mmu_lock held", e.getMessage());
  }

  @Test
  void unsafeCheckNeedsNoLockAndIgnoresAnUnsetRange() {
    long snap = inv.seq();
    locked(inv::begin);
    assertFalse(inv.retryGfnUnsafe(snap, 1), "no range yet: the unsafe check lets it through");
    lock.readLock();
    try {
      assertTrue(inv.retryGfn(snap, 1), "the locked check treats a missing range as a bug");
    } finally {
      lock.readUnlock();
    }
  }

  @Test
  void writersRequireTheWriteLock() {
    lock.readLock();
    try {
      IllegalStateException e = assertThrows(IllegalStateException.class, inv::begin);
      assertEquals("kvm_mmu_invalidate_begin requires mmu_lock held for write", e.getMessage());
    } finally {
      lock.readUnlock();
    }
  }

  @Test
  void endWithoutARangeIsAKvmBug() {
    locked(inv::begin);
    lock.lock();
    try {
      assertThrows(IllegalStateException.class, inv::end);
    } finally {
      lock.unlock();
    }
  }

  /**
   * {@code mmu_invalidate_retry_gfn_unsafe} reads the in-progress count, then the range and the
   * sequence: a deterministic schedule can start an invalidation of the faulting gfn between
   * the reads, so the unsafe check lets the fault through while the invalidation is in progress
   * and only the locked check catches it. Without the race point between the reads no schedule
   * could do so, and an arch that took the unsafe answer as final would go uncaught.
   */
  @Test
  void anInvalidationCanBeginBetweenTheUnsafeCheckReads() {
    boolean opened = false;
    for (long seed = 0; seed < 64 && !opened; seed++) {
      ChoiceStream choices = ChoiceStream.seeded(seed);
      DeterministicScheduler scheduler =
          new DeterministicScheduler(choices, SchedulePolicy.RANDOM, 2, 16, 1_000);
      KvmMmuLock mmuLock = new KvmMmuLock(MmuLockKind.RWLOCK, scheduler, new EventLog(16));
      MmuInvalidate raced = new MmuInvalidate(mmuLock, scheduler);
      long snap = raced.seq();
      boolean[] letThrough = new boolean[1];
      boolean[] lockedRetry = new boolean[1];
      scheduler.spawn("vcpu", () -> {
        boolean through = !raced.retryGfnUnsafe(snap, 15);
        letThrough[0] = through && raced.inProgress() == 1 && raced.rangeStart() == 10;
        mmuLock.readLock();
        lockedRetry[0] = raced.retryGfn(snap, 15);
        mmuLock.readUnlock();
      });
      scheduler.spawn("notifier", () -> {
        mmuLock.lock();
        raced.begin();
        raced.rangeAdd(10, 20);
        mmuLock.unlock();
      });
      assertTrue(scheduler.run().passed());
      opened = letThrough[0] && lockedRetry[0];
    }
    assertTrue(opened, "no schedule began the invalidation inside the unsafe check");
  }
}
