package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.DirtyProtectedCheck;
import org.kvmmodel.core.choice.Shrinker;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;

/**
 * Generated runs: the guest programs, host operations and schedule all come from one seeded
 * stream, so a failing run is replayed from its recorded choices and shrunk by replaying
 * smaller ones.
 */
class ShrinkingTests {

  private static final ToyPlugin BROKEN = ToyPlugin.broken(Breakage.FAST_PATH_DIRTIES_FOLIO);
  private static final ArchPluginRegistry REGISTRY = ArchPluginRegistry.of(List.of(BROKEN));
  private static final Scenario SCENARIO = Scenarios.byName("demand-paging");
  private static final ModelSettings SETTINGS =
      ModelSettings.from(
          ConfigFactory.parseString("kvmmodel.arch = " + BROKEN.name())
              .withFallback(ConfigFactory.defaultReference())
              .resolve());

  private static boolean brokeDirtyProtected(RunResult r) {
    for (CheckResult c : r.checks()) {
      if (c.id().equals(DirtyProtectedCheck.ID) && !c.violations().isEmpty()) {
        return true;
      }
    }
    return false;
  }

  private static RunResult replay(int[] choices) {
    return ScenarioRun.replay(SCENARIO, SETTINGS, REGISTRY, choices, SchedulePolicy.RANDOM);
  }

  @Test
  void aFailingRunShrinksToAShorterSequenceThatFailsTheSameWay() {
    RunResult failing = null;
    for (long seed = 0; seed < 32 && failing == null; seed++) {
      RunResult r = ScenarioRun.execute(SCENARIO, SETTINGS, REGISTRY, seed, SchedulePolicy.RANDOM);
      if (brokeDirtyProtected(r)) {
        failing = r;
      }
    }
    assertNotNull(failing, "a fast path that dirties folios is caught within 32 seeds");
    assertTrue(brokeDirtyProtected(replay(failing.choices())), "the recorded choices replay it");

    Shrinker shrinker = new Shrinker(c -> brokeDirtyProtected(replay(c)), 400);
    int[] small = shrinker.shrink(failing.choices());
    RunResult minimal = replay(small);
    assertTrue(brokeDirtyProtected(minimal));
    assertTrue(small.length < failing.choices().length,
        "shrunk from " + failing.choices().length + " to " + small.length + " choices");
    assertEquals(
        minimal.checks().get(0).violations().get(0).message(),
        replay(small).checks().get(0).violations().get(0).message(),
        "the shrunk run is itself deterministic");
  }
}
