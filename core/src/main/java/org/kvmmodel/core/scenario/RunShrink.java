package org.kvmmodel.core.scenario;

import java.util.function.Predicate;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.choice.Shrinker;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * Shrinks a failing deterministic run: replays smaller choice sequences with the same policy
 * and keeps the smallest that still fails the way that matters.
 */
public final class RunShrink {

  /** Replays a failing run's shrinking may take. */
  public static final int BUDGET = 300;

  private RunShrink() {}

  /** The run reduced while it keeps failing the same checks (and the schedule the same way). */
  public static RunResult sameFailure(
      Scenario scenario, ModelSettings settings, ArchPluginRegistry registry, RunResult failing) {
    String signature = signature(failing);
    return shrink(scenario, settings, registry, failing, r -> signature.equals(signature(r)));
  }

  /** The run reduced while each replay satisfies {@code keeps}, which {@code failing} must. */
  public static RunResult shrink(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      RunResult failing,
      Predicate<RunResult> keeps) {
    SchedulePolicy policy = failing.policy();
    Shrinker shrinker =
        new Shrinker(
            choices -> keeps.test(ScenarioRun.replay(scenario, settings, registry, choices, policy)),
            BUDGET);
    return ScenarioRun.replay(
        scenario, settings, registry, shrinker.shrink(failing.choices()), policy);
  }

  /** Which checks failed and whether the schedule did: what a shrunk run must keep. */
  private static String signature(RunResult r) {
    StringBuilder sb = new StringBuilder(r.failure() == null ? "-" : r.failure().kind().name());
    for (CheckResult c : r.checks()) {
      sb.append(c.violations().isEmpty() ? '.' : 'F');
    }
    return sb.toString();
  }
}
