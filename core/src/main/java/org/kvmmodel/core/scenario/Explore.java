package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * Searches deterministic mode for a violation of one check: schedule seeds from
 * {@code fromSeed} on, each tried with a random schedule and then with PCT, until a run breaks
 * the check or the budget of runs is spent. The first such run is shrunk while it keeps
 * breaking the check. With a scenario seed every run performs the actions that seed draws (a
 * free-mode failure's guest programs and host operations) and only the schedule varies;
 * without one each seed draws both, as {@code run --seed} does.
 */
public final class Explore {

  private Explore() {}

  /** The ids {@code explore} accepts: every check, and {@link Conformance#RUN_ROW}. */
  public static List<String> checkIds() {
    List<String> ids = new ArrayList<>(Checker.IDS);
    ids.add(Conformance.RUN_ROW);
    return ids;
  }

  /**
   * Explores up to {@code budget} schedules; {@code progress} is told after each run. Throws
   * {@link IllegalArgumentException} for an unknown check, one the scenario does not attach,
   * or a budget below 1.
   */
  public static Exploration search(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      String check,
      Long scenarioSeed,
      long fromSeed,
      int budget,
      IntConsumer progress) {
    if (!checkIds().contains(check)) {
      throw new IllegalArgumentException(
          "unknown check '" + check + "' (allowed: " + String.join(", ", checkIds()) + ")");
    }
    if (!check.equals(Conformance.RUN_ROW) && !scenario.judgedBy(check)) {
      throw new IllegalArgumentException(
          "check " + check + " does not judge scenario " + scenario.name());
    }
    if (budget < 1) {
      throw new IllegalArgumentException("--budget must be at least 1");
    }
    String arch = null;
    String configuration = null;
    for (int i = 0; i < budget; i++) {
      long seed = fromSeed + i / 2;
      SchedulePolicy policy = i % 2 == 0 ? SchedulePolicy.RANDOM : SchedulePolicy.PCT;
      RunResult r =
          scenarioSeed == null
              ? ScenarioRun.execute(scenario, settings, registry, seed, policy)
              : ScenarioRun.execute(scenario, settings, registry, scenarioSeed, seed, policy);
      arch = r.arch();
      configuration = r.configuration();
      progress.accept(i + 1);
      if (r.violates(check)) {
        RunResult shrunk =
            RunShrink.shrink(scenario, settings, registry, r, replay -> replay.violates(check));
        return new Exploration(scenario.name(), arch, configuration, check, scenarioSeed,
            fromSeed, i + 1, r, shrunk);
      }
    }
    return new Exploration(scenario.name(), arch, configuration, check, scenarioSeed, fromSeed,
        budget, null, null);
  }
}
