package org.kvmmodel.core.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FreeSchedulerTests {

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await();
    } catch (InterruptedException | BrokenBarrierException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void actorsRunAtTheSameTimeOnTheirOwnThreads() {
    FreeScheduler s = new FreeScheduler();
    CountDownLatch both = new CountDownLatch(2);
    String[] seen = new String[2];
    for (int i = 0; i < 2; i++) {
      int id = i;
      s.spawn("actor" + i, () -> {
        both.countDown();
        // Only returns once the other actor has started too: one actor at a time would hang.
        await(both);
        s.point("met");
        seen[id] = s.currentActor();
      });
    }
    FreeScheduler.Result r = s.run();
    assertNull(r.failure());
    assertEquals("actor0", seen[0]);
    assertEquals("actor1", seen[1]);
    assertEquals(2, r.steps(), "each actor passed one race point");
  }

  @Test
  void aRealLockSerialisesReadModifyWrite() {
    FreeScheduler s = new FreeScheduler();
    SchedLock lock = s.newLock("counter_lock");
    int[] counter = new int[1];
    for (int i = 0; i < 4; i++) {
      s.spawn("actor" + i, () -> {
        for (int n = 0; n < 10_000; n++) {
          lock.acquireExclusive();
          counter[0]++;
          lock.releaseExclusive();
        }
      });
    }
    assertNull(s.run().failure());
    assertEquals(40_000, counter[0]);
  }

  @Test
  void anActorThatThrowsFailsTheRunAndUnwindsTheOnesWaitingForItsLock() {
    FreeScheduler s = new FreeScheduler();
    SchedLock lock = s.newLock("mmu_lock");
    AtomicBoolean held = new AtomicBoolean();
    AtomicBoolean acquiring = new AtomicBoolean();
    AtomicInteger unwound = new AtomicInteger();
    s.spawn("holder", () -> {
      lock.acquireExclusive();
      held.set(true);
      while (!acquiring.get()) {
        Thread.onSpinWait();
      }
      throw new IllegalStateException("BUG under mmu_lock");
    });
    s.spawn("waiter", () -> {
      while (!held.get()) {
        Thread.onSpinWait();
      }
      acquiring.set(true);
      try {
        lock.acquireExclusive();
      } catch (ScheduleAbort e) {
        unwound.incrementAndGet();
        throw e;
      }
    });
    FreeScheduler.Result r = s.run();
    assertNotNull(r.failure());
    assertEquals(ScheduleFailure.Kind.EXCEPTION, r.failure().kind());
    assertEquals("exception in holder: BUG under mmu_lock", r.failure().toString());
    assertEquals(1, unwound.get(), "the waiter was unwound, not left blocked");
  }

  @Test
  void aDeadlockIsReportedWithWhatEachActorWaitsFor() {
    FreeScheduler s = new FreeScheduler(200);
    SchedLock slots = s.newLock("slots_lock");
    SchedLock mmu = s.newLock("mmu_lock");
    CyclicBarrier bothHoldOne = new CyclicBarrier(2);
    s.spawn("a", () -> {
      slots.acquireExclusive();
      await(bothHoldOne);
      mmu.acquireExclusive();
    });
    s.spawn("b", () -> {
      mmu.acquireExclusive();
      await(bothHoldOne);
      slots.acquireExclusive();
    });
    FreeScheduler.Result r = s.run();
    assertNotNull(r.failure());
    assertEquals(ScheduleFailure.Kind.STEP_BOUND, r.failure().kind());
    assertEquals("no actor made progress for 200 ms: a waits for mmu_lock; b waits for slots_lock",
        r.failure().message());
  }

  @Test
  void aSpinnerThatWaitsForeverIsNoProgress() {
    FreeScheduler s = new FreeScheduler(200);
    s.spawn("spinner", () -> {
      while (true) {
        s.spinPoint("synchronize_srcu");
        Thread.yield();
      }
    });
    FreeScheduler.Result r = s.run();
    assertEquals(
        "step_bound in spinner: no actor made progress for 200 ms: spinner runs or spins",
        r.failure().toString());
  }

  @Test
  void theSharedInstanceRunsNoActors() {
    assertThrows(IllegalStateException.class, () -> FreeScheduler.INSTANCE.spawn("a", () -> {}));
    FreeScheduler s = new FreeScheduler();
    s.run();
    assertThrows(IllegalStateException.class, s::run);
    assertFalse(s.isDeterministic());
  }
}
