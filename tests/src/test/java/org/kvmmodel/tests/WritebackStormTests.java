package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.NoLostWriteCheck;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.sched.SchedulePolicy;

/** The writeback-storm scenario on x86 and on the SPI doubles, judged by every check. */
class WritebackStormTests {

  private static RunResult run(String arch, String configuration, long seed, SchedulePolicy policy) {
    return ScenarioFixtures.run("writeback-storm", arch, configuration, seed, policy);
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
  void noLostWriteJudgesWritebackAndTheHostCleansFolios() {
    long judged = 0;
    long cleaned = 0;
    long readFaultsGivenWritable = 0;
    for (long seed = 0; seed < 8; seed++) {
      RunResult r = run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM);
      judged += r.checks().stream().filter(c -> c.id().equals(NoLostWriteCheck.ID))
          .mapToLong(CheckResult::judged).sum();
      cleaned += r.counters().get("folios-cleaned");
      readFaultsGivenWritable += r.counters().get("read-faults-given-writable");
    }
    assertTrue(judged > 0, "NO-LOST-WRITE judged something");
    assertTrue(cleaned > 0, "the host ran folio_clear_dirty_for_io");
    assertTrue(readFaultsGivenWritable > 0, "a read fault was given a writable pfn");
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
