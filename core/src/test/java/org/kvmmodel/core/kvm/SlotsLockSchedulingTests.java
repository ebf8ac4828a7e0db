package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.kvmmodel.api.kvm.MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.when;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.SchedLock;
import org.kvmmodel.core.sched.ScheduleFailure;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * slots_lock is a mutex the deterministic scheduler sees: concurrent memslot updates from two
 * actors are scheduled around it, and a cycle through it is a reported deadlock.
 */
class SlotsLockSchedulingTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;
  private static final int SEEDS = 32;

  /** One VMM thread's updates of its own slot: create, start and stop logging, move, delete. */
  private static void updateOwnSlot(MemslotFixture f, int id, boolean[] contended) {
    long gpa = (long) id * 16 * MB;
    long hva = HVA + gpa;
    int[][] steps = {
      {0, 0}, {KVM_MEM_LOG_DIRTY_PAGES, 0}, {0, 0}, {0, 1},
    };
    for (int[] step : steps) {
      contended[0] |= f.setMemoryRegion.slotsLock().isWriteLocked();
      assertEquals(0, f.set(id, step[0], gpa + step[1] * 4 * MB, 2 * MB, hva));
    }
    contended[0] |= f.setMemoryRegion.slotsLock().isWriteLocked();
    assertEquals(0, f.set(id, 0, gpa + 4 * MB, 0, hva));
  }

  @ParameterizedTest
  @EnumSource(SchedulePolicy.class)
  void concurrentMemslotUpdatesAreSerialisedAndComplete(SchedulePolicy policy) {
    boolean[] contended = {false};
    for (long seed = 0; seed < SEEDS; seed++) {
      DeterministicScheduler s =
          new DeterministicScheduler(ChoiceStream.seeded(seed), policy, 3, 200, 100_000);
      MemslotFixture f = new MemslotFixture(s);
      int[] inside = {0};
      when(f.arch.prepareMemoryRegion(any(), any(), any()))
          .thenAnswer(
              inv -> {
                inside[0]++;
                assertEquals(1, inside[0], "two memslot updates inside slots_lock at once");
                s.point("kvm_arch_prepare_memory_region");
                return 0;
              });
      doAnswer(
              inv -> {
                s.point("kvm_arch_commit_memory_region");
                inside[0]--;
                return null;
              })
          .when(f.arch)
          .commitMemoryRegion(any(), any(), any());
      s.spawn("vmm1", () -> updateOwnSlot(f, 1, contended));
      s.spawn("vmm2", () -> updateOwnSlot(f, 2, contended));
      DeterministicScheduler.Result r = s.run();
      String where = "seed " + seed;
      assertNull(r.failure(), () -> where + ": " + r.failure().message());
      assertEquals(0, f.setMemoryRegion.nrMemslotPages(), "seed " + seed);
      assertTrue(f.memslots.active(0).slots().isEmpty(), "seed " + seed);
      assertEquals(0, inside[0], "seed " + seed);
    }
    assertTrue(contended[0], "no schedule had an actor reach slots_lock while the other held it");
  }

  /**
   * vmm1's arch commit takes mmu_lock with slots_lock held (KVM's order); vmm2 updates a memslot
   * with mmu_lock held, the inverted order. Some schedule has each wait for the other's lock.
   */
  @ParameterizedTest
  @EnumSource(SchedulePolicy.class)
  void slotsLockAgainstMmuLockInversionIsAReportedDeadlock(SchedulePolicy policy) {
    ScheduleFailure failure = null;
    for (long seed = 0; seed < SEEDS && failure == null; seed++) {
      DeterministicScheduler s =
          new DeterministicScheduler(ChoiceStream.seeded(seed), policy, 3, 50, 100_000);
      MemslotFixture f = new MemslotFixture(s);
      SchedLock slotsLock = f.setMemoryRegion.slotsLock();
      doAnswer(
              inv -> {
                if (inv.getArgument(2) == MemoryChange.CREATE && slotsLock.heldExclusive()
                    && s.currentActor().equals("vmm1")) {
                  f.lock.lock();
                  f.lock.unlock();
                }
                return null;
              })
          .when(f.arch)
          .commitMemoryRegion(any(), any(), any());
      s.spawn("vmm1", () -> assertEquals(0, f.set(1, 0, 16 * MB, 2 * MB, HVA)));
      s.spawn(
          "vmm2",
          () -> {
            f.lock.lock();
            try {
              assertEquals(0, f.set(2, 0, 32 * MB, 2 * MB, HVA + 32 * MB));
            } finally {
              f.lock.unlock();
            }
          });
      failure = s.run().failure();
    }
    assertNotNull(failure, "no schedule of " + SEEDS + " seeds deadlocked");
    assertEquals(ScheduleFailure.Kind.DEADLOCK, failure.kind(), failure.message());
    assertEquals(
        "every actor is blocked: vmm1 waits for mmu_lock; vmm2 waits for slots_lock",
        failure.message());
  }
}
