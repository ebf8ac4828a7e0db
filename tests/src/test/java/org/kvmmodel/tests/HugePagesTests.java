package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * The huge-pages scenario runs clean on arm64 (blocks from THP, hugetlbfs and PFNMAP, which
 * PERMISSIONS judges), on x86 (which maps 4 KiB pages) and on the SPI doubles; on RISC-V every
 * check but DIRTY-PROTECTED stays clean, and DIRTY-PROTECTED breaks only in the way RISC-V
 * declares for 6.13. Budget: arm64 on three 4 KiB configurations (one with MTE, which refuses
 * the PFNMAP slots), 4 seeds x both policies; RISC-V on two configurations, 4 seeds x both
 * policies; x86 and the doubles 4 seeds x random.
 */
class HugePagesTests {

  private static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(List.of(
      new Arm64Plugin(), new RiscvPlugin(), new X86Plugin(), ToyPlugin.spinlockWholeVm(),
      ToyPlugin.concatenatedRoot()));

  /**
   * What {@code kvm_riscv_gstage_map} does in 6.13 (releasing the page as used after the retry
   * check fired), as DIRTY-PROTECTED words it.
   */
  private static final String RISCV_DECLARED = "marked dirty under mmu_lock after the retry"
      + " check failed (the invalidation sequence moved since the snapshot)";

  private static RunResult run(String arch, String configuration, long seed,
      SchedulePolicy policy) {
    return ScenarioRun.execute(Scenarios.byName("huge-pages"),
        ScenarioFixtures.settings(arch, configuration), REGISTRY, seed, policy);
  }

  @Test
  void arm64RunsCleanOnItsFourKilobyteConfigurationsAndMapsBlocks() {
    for (String configuration : List.of("4k-ipa40", "4k-ipa48-fwb-ha", "4k-ipa48-ha-mte")) {
      for (long seed = 0; seed < 4; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          String what = configuration + " seed " + seed + " " + policy;
          RunResult r = run("arm64", configuration, seed, policy);
          ScenarioFixtures.assertClean(r, what);
          assertTrue(r.hugeLeavesJudged() > 0, what + ": no block was judged");
        }
      }
    }
  }

  @Test
  void riscvBreaksOnlyItsDeclaredDirtyProtectedDivergenceAndMapsHugeLeaves() {
    for (String configuration : List.of("sv39x4-svade", "sv48x4-svadu")) {
      for (long seed = 0; seed < 4; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          String what = configuration + " seed " + seed + " " + policy;
          RunResult r = run("riscv", configuration, seed, policy);
          assertNull(r.failure(), what + ": " + r.failure());
          for (CheckResult c : r.checks()) {
            if (!c.id().equals(DirtyProtectedCheck.ID)) {
              assertTrue(c.violations().isEmpty(), what + ": " + c);
              continue;
            }
            for (Violation v : c.violations()) {
              assertTrue(v.message().endsWith(RISCV_DECLARED), what + ": " + v);
            }
          }
          assertTrue(r.hugeLeavesJudged() > 0, what + ": no huge leaf was judged");
        }
      }
    }
  }

  @Test
  void x86AndTheDoublesRunClean() {
    for (String arch : List.of("x86", "toy-spin", "toy-concat")) {
      for (long seed = 0; seed < 4; seed++) {
        ScenarioFixtures.assertClean(run(arch, "", seed, SchedulePolicy.RANDOM),
            arch + " seed " + seed);
      }
    }
  }
}
