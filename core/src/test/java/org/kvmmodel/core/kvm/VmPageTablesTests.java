package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.pt.PageTablePage;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.FaultInjectionSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.sched.Rcu;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

class VmPageTablesTests {

  private final KvmMmuLock lock = new KvmMmuLock(MmuLockKind.RWLOCK, FreeScheduler.INSTANCE, new EventLog(16));
  private final EventLog log = new EventLog(16);
  private final Rcu rcu = new Rcu(FreeScheduler.INSTANCE, new EventLog(16));

  private VmPageTables tables(FaultInjectionSettings settings, long limit) {
    return new VmPageTables(
        lock, new FaultInjector(settings, ChoiceStream.seeded(3)), FreeScheduler.INSTANCE, rcu, limit, log);
  }

  @Test
  void topUpOutsideTheLockThenDrawFromTheCacheUnderIt() {
    VmPageTables t = tables(FaultInjectionSettings.NONE, 100);
    assertEquals(0, t.topup(4));
    assertEquals(4, t.cachedPages());
    lock.readLock();
    try {
      PageTablePage p = t.allocate(1, 512);
      assertEquals(512, p.entryCount());
      assertEquals(3, t.cachedPages());
      assertEquals(0, t.emptyCacheAllocations());
      List<Long> sleeps = new ArrayList<>();
      log.addListener((seq, tp, actor, a, b, c) -> {
        if (tp == Tracepoint.MIGHT_SLEEP) {
          sleeps.add(a);
        }
      });
      assertEquals(0, t.topup(3));
      assertEquals(List.of(), sleeps, "a full cache allocates nothing");
      assertEquals(0, t.topup(8));
      assertEquals(List.of((long) SleepSite.MMU_TOPUP_MEMORY_CACHE.ordinal()), sleeps,
          "topping up under mmu_lock reaches a point that sleeps, for LOCK-DISCIPLINE to judge");
    } finally {
      lock.readUnlock();
    }
    t.freeCache();
    assertEquals(0, t.cachedPages());
  }

  @Test
  void anEmptyCacheUnderTheLockIsCounted() {
    VmPageTables t = tables(FaultInjectionSettings.NONE, 100);
    lock.lock();
    try {
      t.allocate(1, 512);
    } finally {
      lock.unlock();
    }
    assertEquals(1, t.emptyCacheAllocations());
  }

  @Test
  void topUpFailsWithEnomemWhenInjectedOrExhausted() {
    assertEquals(Errno.ENOMEM.negative(), tables(new FaultInjectionSettings(0, 0, 100, 0), 100).topup(1));
    VmPageTables small = tables(FaultInjectionSettings.NONE, 2);
    assertEquals(Errno.ENOMEM.negative(), small.topup(3));
  }

  @Test
  void unlinkedPagesStayReadableUntilAGracePeriodPasses() {
    VmPageTables t = tables(FaultInjectionSettings.NONE, 100);
    PageTablePage p = t.allocate(1, 512);
    t.deferFree(p);
    assertSame(p, t.tableAt(p.physicalAddress()), "a lockless walker may still be on it");
    assertEquals(1, t.livePages());
    rcu.synchronize();
    assertEquals(0, t.livePages());
    assertEquals(1, t.freedPages());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> t.tableAt(p.physicalAddress()));
    assertTrue(e.getMessage().endsWith("is not allocated (freed or never used)"), e.getMessage());
  }

  @Test
  void aGracePeriodWaitsForReaders() throws Exception {
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread reader =
        new Thread(
            () -> {
              int idx = rcu.readLock();
              inside.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              rcu.readUnlock(idx);
            });
    reader.start();
    assertTrue(inside.await(10, TimeUnit.SECONDS));
    boolean[] ran = new boolean[1];
    rcu.callRcu(() -> ran[0] = true);
    Thread updater = new Thread(rcu::synchronize);
    updater.start();
    updater.join(200);
    assertTrue(updater.isAlive(), "synchronize_rcu waits for the reader");
    assertFalse(ran[0]);
    release.countDown();
    updater.join(10_000);
    assertTrue(ran[0]);
    reader.join();
  }

  @Test
  void cmpxchgLossesAreInjectedAtTheRacePoint() {
    VmPageTables t = tables(new FaultInjectionSettings(0, 0, 0, 100), 100);
    assertTrue(t.environment().raceHook().beforeAtomicUpdate(null, 0, 1, 0));
    VmPageTables none = tables(FaultInjectionSettings.NONE, 100);
    assertFalse(none.environment().raceHook().beforeAtomicUpdate(null, 0, 1, 0));
  }
}
