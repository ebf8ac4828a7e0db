package org.kvmmodel.core.sched;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.choice.ChoiceStream;

class DeterministicSchedulerTests {

  /** Two actors each do a read-modify-write of a counter with a race point in the middle. */
  private static final class LostUpdate {
    int counter;
    final List<String> trace = new ArrayList<>();

    DeterministicScheduler.Result run(ChoiceStream choices, SchedulePolicy policy, boolean locked) {
      DeterministicScheduler s = new DeterministicScheduler(choices, policy, 2, 6, 1000);
      SchedLock lock = s.newLock("counter_lock");
      for (String name : new String[] {"a", "b"}) {
        s.spawn(name, () -> {
          if (locked) {
            lock.acquireExclusive();
          }
          int v = counter;
          trace.add(name + " read " + v);
          s.point("between read and write");
          counter = v + 1;
          trace.add(name + " wrote " + (v + 1));
          if (locked) {
            lock.releaseExclusive();
          }
        });
      }
      return s.run();
    }
  }

  @Test
  void someSeedLosesTheUpdateAndItsChoicesReplayExactly() {
    long failingSeed = -1;
    LostUpdate found = null;
    DeterministicScheduler.Result result = null;
    for (long seed = 0; seed < 64 && failingSeed < 0; seed++) {
      LostUpdate run = new LostUpdate();
      result = run.run(ChoiceStream.seeded(seed), SchedulePolicy.RANDOM, false);
      assertTrue(result.passed());
      if (run.counter == 1) {
        failingSeed = seed;
        found = run;
      }
    }
    assertTrue(failingSeed >= 0, "random scheduling finds the lost update within 64 seeds");
    LostUpdate replay = new LostUpdate();
    DeterministicScheduler.Result again =
        replay.run(ChoiceStream.replay(result.choices()), SchedulePolicy.RANDOM, false);
    assertEquals(1, replay.counter);
    assertEquals(found.trace, replay.trace, "the same interleaving, event for event");
    assertArrayEquals(result.choices(), again.choices());
    assertEquals(result.steps(), again.steps());
  }

  @Test
  void aLockPreventsTheLostUpdateUnderEverySeedAndPolicy() {
    for (SchedulePolicy policy : SchedulePolicy.values()) {
      for (long seed = 0; seed < 32; seed++) {
        LostUpdate run = new LostUpdate();
        assertTrue(run.run(ChoiceStream.seeded(seed), policy, true).passed());
        assertEquals(2, run.counter, policy + " seed " + seed);
      }
    }
  }

  @Test
  void pctAlsoFindsTheDepthOneBug() {
    boolean found = false;
    for (long seed = 0; seed < 64 && !found; seed++) {
      LostUpdate run = new LostUpdate();
      run.run(ChoiceStream.seeded(seed), SchedulePolicy.PCT, false);
      found = run.counter == 1;
    }
    assertTrue(found);
  }

  @Test
  void abbaLockOrderDeadlockIsReported() {
    ScheduleFailure failure = null;
    for (long seed = 0; seed < 64 && failure == null; seed++) {
      DeterministicScheduler s =
          new DeterministicScheduler(ChoiceStream.seeded(seed), SchedulePolicy.RANDOM, 1, 1, 1000);
      SchedLock a = s.newLock("slots_lock");
      SchedLock b = s.newLock("mmu_lock");
      s.spawn("t1", () -> {
        a.acquireExclusive();
        b.acquireExclusive();
        b.releaseExclusive();
        a.releaseExclusive();
      });
      s.spawn("t2", () -> {
        b.acquireExclusive();
        a.acquireExclusive();
        a.releaseExclusive();
        b.releaseExclusive();
      });
      failure = s.run().failure();
    }
    assertNotNull(failure);
    assertEquals(ScheduleFailure.Kind.DEADLOCK, failure.kind());
    assertTrue(failure.message().startsWith("every actor is blocked: t"), failure.message());
    assertTrue(failure.message().contains("waits for slots_lock"), failure.message());
    assertTrue(failure.message().contains("waits for mmu_lock"), failure.message());
  }

  @Test
  void anActorsExceptionStopsTheRunAndNamesTheActor() {
    DeterministicScheduler s =
        new DeterministicScheduler(ChoiceStream.seeded(1), SchedulePolicy.RANDOM, 1, 1, 1000);
    s.spawn("vcpu0", () -> {
      s.point("x");
      throw new IllegalStateException("mmu_lock not held");
    });
    s.spawn("vcpu1", () -> {
      for (int i = 0; i < 100; i++) {
        s.point("spin");
      }
    });
    ScheduleFailure f = s.run().failure();
    assertEquals(ScheduleFailure.Kind.EXCEPTION, f.kind());
    assertEquals("vcpu0", f.actor());
    assertEquals("exception in vcpu0: mmu_lock not held", f.toString());
  }

  @Test
  void exceedingTheStepBoundIsALivenessFailure() {
    DeterministicScheduler s =
        new DeterministicScheduler(ChoiceStream.seeded(1), SchedulePolicy.RANDOM, 1, 1, 50);
    s.spawn("spinner", () -> {
      while (true) {
        s.point("retry");
      }
    });
    ScheduleFailure f = s.run().failure();
    assertEquals(ScheduleFailure.Kind.STEP_BOUND, f.kind());
    assertEquals("no progress within 50 scheduler steps (at retry)", f.message());
  }

  @Test
  void readersWaitBehindAWaitingWriter() {
    for (long seed = 0; seed < 32; seed++) {
      DeterministicScheduler s =
          new DeterministicScheduler(ChoiceStream.seeded(seed), SchedulePolicy.RANDOM, 1, 1, 10_000);
      SchedLock rw = s.newLock("mmu_lock");
      List<String> order = new ArrayList<>();
      s.spawn("reader", () -> {
        for (int i = 0; i < 5; i++) {
          rw.acquireShared();
          order.add("r");
          rw.releaseShared();
        }
      });
      s.spawn("writer", () -> {
        rw.acquireExclusive();
        order.add("w");
        rw.releaseExclusive();
      });
      assertNull(s.run().failure());
      assertEquals(6, order.size());
    }
  }

  /**
   * Under PCT, whichever actor gets the higher priority: a spinner waiting at spin points for a
   * flag another actor sets finishes well within the step bound; at plain points it would run
   * until the step bound whenever it outranks the setter.
   */
  @Test
  void aSpinnerUnderPctLetsTheActorItWaitsForRun() {
    for (boolean spin : new boolean[] {true, false}) {
      int starved = 0;
      for (long seed = 0; seed < 16; seed++) {
        DeterministicScheduler s =
            new DeterministicScheduler(ChoiceStream.seeded(seed), SchedulePolicy.PCT, 2, 2, 5000);
        boolean[] flag = new boolean[1];
        s.spawn("spinner", () -> {
          while (!flag[0]) {
            if (spin) {
              s.spinPoint("wait for the flag");
            } else {
              s.point("wait for the flag");
            }
          }
        });
        s.spawn("setter", () -> {
          s.point("before setting");
          flag[0] = true;
        });
        DeterministicScheduler.Result r = s.run();
        if (!r.passed()) {
          starved++;
        }
      }
      if (spin) {
        assertEquals(0, starved, "spin points never starve the setter");
      } else {
        assertTrue(starved > 0, "plain points starve the setter on some seed");
      }
    }
  }
}
