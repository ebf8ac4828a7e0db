package org.kvmmodel.tests;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * The huge-pages scenario runs clean on arm64 (blocks from THP, hugetlbfs and PFNMAP), on x86
 * (which maps 4 KiB pages) and on the SPI doubles. Budget: arm64 on three 4 KiB configurations (one with MTE, which refuses the PFNMAP slots),
 * 4 seeds x both policies; x86 and the doubles 4 seeds x random.
 */
class HugePagesTests {

  private static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(List.of(
      new Arm64Plugin(), new X86Plugin(), ToyPlugin.spinlockWholeVm(),
      ToyPlugin.concatenatedRoot()));

  private static RunResult run(String arch, String configuration, long seed,
      SchedulePolicy policy) {
    return ScenarioRun.execute(Scenarios.byName("huge-pages"),
        ScenarioFixtures.settings(arch, configuration), REGISTRY, seed, policy);
  }

  @Test
  void arm64RunsCleanOnItsFourKilobyteConfigurations() {
    for (String configuration : List.of("4k-ipa40", "4k-ipa48-fwb-ha", "4k-ipa48-ha-mte")) {
      for (long seed = 0; seed < 4; seed++) {
        for (SchedulePolicy policy : SchedulePolicy.values()) {
          ScenarioFixtures.assertClean(run("arm64", configuration, seed, policy),
              configuration + " seed " + seed + " " + policy);
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
