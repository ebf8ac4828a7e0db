package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.function.Consumer;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.KnownDivergences;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.ToyPlugin;

/** What the scenario tests share: the plugins, settings for one arch, one run, a clean verdict. */
final class ScenarioFixtures {

  static final ArchPluginRegistry REGISTRY =
      ArchPluginRegistry.of(
          List.of(new X86Plugin(), ToyPlugin.spinlockWholeVm(), ToyPlugin.concatenatedRoot()));

  private ScenarioFixtures() {}

  static ModelSettings settings(String arch, String configuration) {
    return ModelSettings.from(
        ConfigFactory.parseString(
                "kvmmodel { arch = " + arch + ", arch-configuration = \"" + configuration + "\" }")
            .withFallback(ConfigFactory.defaultReference())
            .resolve());
  }

  static RunResult run(
      String scenario, String arch, String configuration, long seed, SchedulePolicy policy) {
    return ScenarioRun.execute(
        Scenarios.byName(scenario), settings(arch, configuration), REGISTRY, seed, policy);
  }

  /**
   * Asserts the run's schedule completed and every violation a check found is one
   * {@code declared} covers (real KVM has it too).
   */
  static void assertCleanBut(KnownDivergences declared, RunResult r, String what) {
    assertNull(r.failure(), what + ": " + r.failure());
    for (CheckResult c : r.checks()) {
      assertNull(declared.firstUncovered(c), what + ": " + c);
    }
  }

  /** Asserts the run's schedule completed and no check found a violation. */
  static void assertClean(RunResult r, String what) {
    assertNull(r.failure(), what + ": " + r.failure());
    for (CheckResult c : r.checks()) {
      assertTrue(c.violations().isEmpty(), what + ": " + c);
    }
  }

  /**
   * {@code real} as it is, with {@code afterSetUp} run on the scenario's run once its set-up is
   * done: for a test that watches what the set-up created (its vCPUs, its VMs' event logs).
   */
  static Scenario observed(Scenario real, Consumer<ScenarioRun> afterSetUp) {
    return new Scenario() {
      @Override
      public String name() {
        return real.name();
      }

      @Override
      public String description() {
        return real.description();
      }

      @Override
      public long stepBound() {
        return real.stepBound();
      }

      @Override
      public boolean composedFromSeed() {
        return real.composedFromSeed();
      }

      @Override
      public boolean harvestsDirtyLog() {
        return real.harvestsDirtyLog();
      }

      @Override
      public boolean judgedBy(String checkId) {
        return real.judgedBy(checkId);
      }

      @Override
      public void setUp(ScenarioRun run) {
        real.setUp(run);
        afterSetUp.accept(run);
      }
    };
  }
}
