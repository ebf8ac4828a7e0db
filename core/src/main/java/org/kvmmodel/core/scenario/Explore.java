package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntConsumer;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Violation;
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

  /** The check id {@link #searchAny} reports when no run broke anything. */
  public static final String ANY = "any";

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
    return search(scenario, settings, registry, check,
        r -> r.violates(check) ? Breach.of(r, check) : null, scenarioSeed, fromSeed, budget,
        progress);
  }

  /**
   * Explores up to {@code budget} schedules of {@code scenario} (each seed drawing both its
   * actions and its schedule) for the first that fails in any way the plugin does not declare
   * real KVM fails too: a check's violation no known divergence covers, or the schedule
   * itself failing ({@link Conformance#RUN_ROW}). The exploration's check is the one broken,
   * or {@code any} when none was. Throws {@link IllegalArgumentException} for a budget below 1.
   */
  public static Exploration searchAny(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      long fromSeed,
      int budget,
      IntConsumer progress) {
    KnownDivergences declared =
        KnownDivergences.of(registry.require(settings.arch()), settings.kvmVersion());
    return search(scenario, settings, registry, ANY, r -> firstUndeclared(r, declared), null,
        fromSeed, budget, progress);
  }

  /** The first check {@code r} broke that {@code declared} does not cover, or the run row. */
  private static Breach firstUndeclared(RunResult r, KnownDivergences declared) {
    for (CheckResult c : r.checks()) {
      Violation v = declared.firstUncovered(c);
      if (v != null) {
        return new Breach(c.id(), v.kind());
      }
    }
    return r.failure() != null ? Breach.of(r, Conformance.RUN_ROW) : null;
  }

  /**
   * What a run broke: a check and the kind of its first violation, or the run row and how the
   * schedule failed. Shrinking keeps both, so a replay that breaks the same check another way
   * (a run cut short that leaks what it held) is not taken for the same failure.
   */
  private record Breach(String check, String kind) {

    /** The breach of {@code check} by {@code r}, which violates it. */
    static Breach of(RunResult r, String check) {
      if (check.equals(Conformance.RUN_ROW)) {
        return new Breach(check, r.failure().kind().name());
      }
      for (CheckResult c : r.checks()) {
        if (c.id().equals(check) && !c.violations().isEmpty()) {
          return new Breach(check, c.violations().get(0).kind());
        }
      }
      throw new IllegalArgumentException(check + " is not violated");
    }
  }

  /**
   * The search loop: {@code broken} names what a run broke, or null; the first run it names is
   * shrunk while its replays break the same.
   */
  private static Exploration search(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      String sought,
      Function<RunResult, Breach> broken,
      Long scenarioSeed,
      long fromSeed,
      int budget,
      IntConsumer progress) {
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
      Breach breach = broken.apply(r);
      if (breach != null) {
        RunResult shrunk = RunShrink.shrink(
            scenario, settings, registry, r, replay -> breach.equals(broken.apply(replay)));
        return new Exploration(scenario.name(), arch, configuration, breach.check(), scenarioSeed,
            fromSeed, i + 1, r, shrunk);
      }
    }
    return new Exploration(scenario.name(), arch, configuration, sought, scenarioSeed, fromSeed,
        budget, null, null);
  }
}
