package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.NoStaleMappingCheck;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.sched.SchedulePolicy;

/** The memslot-delete scenario on x86 and on the SPI doubles, judged by every check. */
class MemslotDeleteTests {

  private static RunResult run(String arch, String configuration, long seed, SchedulePolicy policy) {
    return ScenarioFixtures.run("memslot-delete", arch, configuration, seed, policy);
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
          assertTrue(r.counters().get("guest-accesses") <= 48L);
        }
      }
    }
  }

  @Test
  void guestAccessesRaceTheDeletionAndStaleMappingsAreJudged() {
    long exits = 0;
    long judged = 0;
    for (long seed = 0; seed < 8; seed++) {
      RunResult r = run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM);
      exits += 48 - r.counters().get("guest-accesses");
      judged += r.checks().stream().filter(c -> c.id().equals(NoStaleMappingCheck.ID))
          .mapToLong(CheckResult::judged).sum();
    }
    assertTrue(exits > 0, "some access found its slot deleted and exited to userspace");
    assertTrue(judged > 0, "NO-STALE-MAPPING judged the deletions and drops");
  }

  /**
   * Without EPT A/D bits, seed 28 has a fault link table entries at gfn 0 while page 0 is being
   * dropped: a table entry maps nothing, so NO-STALE-MAPPING must not call it a mapping.
   */
  @Test
  void tableEntriesLinkedInsideAnInvalidatedRangeAreNotMappings() {
    RunResult r = run("x86", "ept4-noad", 28, SchedulePolicy.RANDOM);
    CheckResult c = r.checks().stream().filter(x -> x.id().equals(NoStaleMappingCheck.ID))
        .findFirst().orElseThrow();
    assertTrue(c.status() == CheckStatus.PASS, c.toString());
  }

  @Test
  void theDoublesPassToo() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      for (long seed = 0; seed < 4; seed++) {
        RunResult r = run(arch, "", seed, SchedulePolicy.RANDOM);
        assertNull(r.failure(), arch + ": " + r.failure());
        for (CheckResult c : r.checks()) {
          assertTrue(c.status() != CheckStatus.FAIL, arch + ": " + c);
        }
      }
    }
  }
}
