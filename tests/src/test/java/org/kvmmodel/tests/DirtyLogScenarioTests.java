package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;

/** The dirty-log scenario on x86 and on the SPI doubles, judged by every check. */
class DirtyLogScenarioTests {

  private static RunResult run(String arch, String configuration, long seed, SchedulePolicy policy) {
    return ScenarioFixtures.run("dirty-log", arch, configuration, seed, policy);
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
  void dirtyLogCompleteJudgesHarvestedWrites() {
    long judged = 0;
    long harvests = 0;
    for (long seed = 0; seed < 8; seed++) {
      RunResult r = run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM);
      judged += r.checks().stream().filter(c -> c.id().equals(DirtyLogCompleteCheck.ID))
          .mapToLong(CheckResult::judged).sum();
      harvests += r.counters().get("dirty-log-harvests");
    }
    assertEquals(8 * 8, harvests, "every harvest ran");
    assertTrue(judged > 0, "DIRTY-LOG-COMPLETE judged writes against harvests");
  }

  /**
   * The runs draw the selftest's variations: some clear the log (manual protect), some clears
   * are refused, and THP-backed slots have arm64 blocks mapped when logging starts; every check
   * still passes on x86 and arm64.
   */
  @Test
  void runsVaryTheLogModeAndClearWithAcceptedAndRefusedRequests() {
    ArchPluginRegistry registry = ArchPluginRegistry.of(List.of(new X86Plugin(), new Arm64Plugin()));
    for (String arch : List.of("x86", "arm64")) {
      long clears = 0;
      long refused = 0;
      long hugeLeaves = 0;
      for (long seed = 0; seed < 16; seed++) {
        RunResult r = ScenarioRun.execute(Scenarios.byName("dirty-log"),
            ScenarioFixtures.settings(arch, arch.equals("x86") ? "ept4-ad" : "4k-ipa40"), registry,
            seed, SchedulePolicy.RANDOM);
        ScenarioFixtures.assertClean(r, arch + " seed " + seed);
        clears += r.counters().get("dirty-log-clears");
        refused += r.counters().get("dirty-log-clears-refused");
        hugeLeaves += r.hugeLeavesJudged();
      }
      assertTrue(clears > refused && refused > 0, arch + ": " + clears + " clears, " + refused
          + " refused");
      assertEquals(arch.equals("arm64"), hugeLeaves > 0, arch + ": " + hugeLeaves + " huge leaves");
    }
  }

  /**
   * Seeds where KVM writes a page while a clear of it runs and logs it after the clear cleared
   * the initially-set bit: the next harvest reports it, which is KVM's slack, not an
   * over-report (a write call may log its gfn until it returns).
   */
  @Test
  void aKvmWriteThatLogsAfterAClearIsNotAnOverReport() {
    for (long seed : new long[] {73, 153, 161, 174, 201}) {
      ScenarioFixtures.assertClean(run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM),
          "seed " + seed);
    }
  }

  /**
   * The gap between exchanging (or clearing) a bitmap word and re-protecting its gfns is a
   * scheduler point, so some schedule runs another actor there: an event of a vCPU or of
   * kvm-clock between the harvester taking mmu_lock and its first re-protection.
   */
  @Test
  void anotherActorRunsBetweenABitmapWordAndItsReprotection() {
    int opened = 0;
    for (long seed = 0; seed < 32; seed++) {
      List<String> story = run("x86", "ept4-ad", seed, SchedulePolicy.RANDOM).story();
      boolean locked = false;
      boolean other = false;
      for (String line : story) {
        String[] f = line.trim().split("\\s+");
        boolean harvester = f[1].equals("harvester");
        if (harvester && f[2].equals("mmu_lock")) {
          locked = true;
          other = false;
        } else if (harvester && f[2].equals("kvm_arch_mmu_enable_log_dirty_pt_masked")) {
          opened += locked && other ? 1 : 0;
          locked = false;
        } else if (!harvester && locked) {
          other = true;
        }
      }
    }
    assertTrue(opened > 0, "no schedule ran another actor in the window");
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
