package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;

/** The demand-paging scenario on x86 and on the SPI doubles, judged by every check. */
class DemandPagingTests {

  private static RunResult run(String arch, String configuration, long seed, SchedulePolicy policy) {
    return ScenarioFixtures.run("demand-paging", arch, configuration, seed, policy);
  }

  @Test
  void everyCheckPassesOnX86AcrossSeedsAndPolicies() {
    for (String configuration : List.of("ept4-ad", "ept4-noad", "ept5-ad")) {
      for (long seed = 0; seed < 4; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          RunResult r = run("x86", configuration, seed, policy);
          assertNull(r.failure(), configuration + " seed " + seed + " " + policy + ": " + r.failure());
          for (CheckResult c : r.checks()) {
            assertTrue(c.violations().isEmpty(), configuration + " seed " + seed + ": " + c);
          }
          assertEquals(48L, r.counters().get("guest-accesses"));
        }
      }
    }
  }

  @Test
  void theChecksAreExercised() {
    long[] judged = new long[3];
    for (long seed = 0; seed < 8; seed++) {
      RunResult r = run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM);
      for (int i = 0; i < 3; i++) {
        judged[i] += r.checks().get(i).judged();
      }
    }
    for (long j : judged) {
      assertTrue(j > 0, "every check judged something over 8 seeds");
    }
  }

  @Test
  void theDoublesPassToo() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      RunResult r = run(arch, "", 3, SchedulePolicy.RANDOM);
      assertNull(r.failure(), arch + ": " + r.failure());
      for (CheckResult c : r.checks()) {
        assertTrue(c.status() != CheckStatus.FAIL, arch + ": " + c);
      }
    }
  }

  @Test
  void aRunReplaysExactlyFromItsChoices() {
    RunResult first = run("x86", "ept4-ad", 11, SchedulePolicy.RANDOM);
    RunResult again = run("x86", "ept4-ad", 11, SchedulePolicy.RANDOM);
    assertEquals(first.story(), again.story(), "same seed, same story");
    RunResult replay =
        ScenarioRun.replay(
            Scenarios.byName("demand-paging"), ScenarioFixtures.settings("x86", "ept4-ad"), ScenarioFixtures.REGISTRY,
            first.choices(), SchedulePolicy.RANDOM);
    assertEquals(first.story(), replay.story(), "recorded choices, same story");
    assertArrayEquals(first.choices(), replay.choices());
    assertEquals(first.counters(), replay.counters());
  }
}
