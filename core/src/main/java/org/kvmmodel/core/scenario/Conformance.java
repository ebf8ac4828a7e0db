package org.kvmmodel.core.scenario;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.ImpossibleSituation;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * The cross-architecture conformance run: every scenario on every configuration of every
 * selected plugin, over a number of seeds (half random schedules, half PCT), every check
 * judging every run. A check is {@code fail} if any run broke it, {@code not-exercised} if no
 * run judged anything; a run whose schedule failed (an exception, a deadlock, the step bound)
 * is reported in a {@code run} row against the plugin. A scenario that cannot run on a
 * configuration ({@link Scenario#unsupportedReason}) gets {@code not-applicable} rows with the
 * reason. Over all of an arch's cells, each kind of situation a check names is reported as
 * judged, {@code not-applicable} where the plugin declares it impossible
 * ({@link ArchPlugin#impossibleSituations}), or {@code not-exercised}, which fails like a cell.
 * A scenario {@linkplain Scenario#composedFromSeed composed from its seed} runs as many times
 * as {@code kvmmodel.conformance.generated-scenarios} says, each run another VM, and not at all
 * when that is 0.
 */
public final class Conformance {

  /** The row id of schedule failures. */
  public static final String RUN_ROW = "run";

  private Conformance() {}

  /**
   * Runs the matrix: its cells, and per arch and check the kinds of situation judged over all
   * of that arch's configurations and scenarios; {@code progress} is told after each cell.
   */
  public static ConformanceReport report(
      Config baseConfig,
      ArchPluginRegistry registry,
      List<ArchPlugin> plugins,
      List<Scenario> scenarios,
      int seeds,
      IntConsumer progress) {
    List<ConformanceRow> rows = new ArrayList<>();
    List<CoverageRow> coverage = new ArrayList<>();
    int done = 0;
    for (ArchPlugin plugin : plugins) {
      Map<String, Map<String, Long>> situations = new LinkedHashMap<>();
      for (ArchConfiguration configuration : plugin.configurations()) {
        ModelSettings settings =
            ModelSettings.from(
                baseConfig
                    .withValue("kvmmodel.arch", ConfigValueFactory.fromAnyRef(plugin.name()))
                    .withValue(
                        "kvmmodel.arch-configuration",
                        ConfigValueFactory.fromAnyRef(configuration.name())));
        for (Scenario scenario : scenarios) {
          int runs = scenario.composedFromSeed() ? settings.generatedScenarios() : seeds;
          if (runs > 0) {
            rows.addAll(
                cell(settings, registry, plugin, configuration, scenario, runs, situations));
          }
          progress.accept(++done);
        }
      }
      coverage.addAll(coverage(plugin, situations));
    }
    return new ConformanceReport(rows, coverage);
  }

  /** The coverage rows of {@code plugin}: each kind judged, declared impossible, or neither. */
  private static List<CoverageRow> coverage(
      ArchPlugin plugin, Map<String, Map<String, Long>> situations) {
    List<CoverageRow> rows = new ArrayList<>();
    for (String check : Checker.IDS) {
      for (Map.Entry<String, Long> e : situations.getOrDefault(check, Map.of()).entrySet()) {
        String reason = null;
        for (ImpossibleSituation i : plugin.impossibleSituations()) {
          if (i.covers(check, e.getKey())) {
            reason = i.reason();
            break;
          }
        }
        CheckStatus status = e.getValue() > 0 ? CheckStatus.PASS
            : reason != null ? CheckStatus.NOT_APPLICABLE : CheckStatus.NOT_EXERCISED;
        rows.add(new CoverageRow(plugin.name(), check, e.getKey(), e.getValue(), status,
            status == CheckStatus.NOT_APPLICABLE ? reason : null));
      }
    }
    return rows;
  }

  /** The default configuration the embedded reference gives. */
  public static Config defaults() {
    return ConfigFactory.defaultReference(Conformance.class.getClassLoader());
  }

  private static List<ConformanceRow> cell(
      ModelSettings settings,
      ArchPluginRegistry registry,
      ArchPlugin plugin,
      ArchConfiguration configuration,
      Scenario scenario,
      int seeds,
      Map<String, Map<String, Long>> situations) {
    String unrunnable = scenario.unsupportedReason(configuration);
    if (unrunnable != null) {
      return notApplicable(plugin, configuration, scenario, unrunnable);
    }
    KnownDivergences declared = KnownDivergences.of(plugin, settings.kvmVersion());
    Map<String, long[]> judged = new LinkedHashMap<>();
    Map<String, ConformanceRow> firstFailure = new LinkedHashMap<>();
    Map<String, ConformanceRow> firstKnown = new LinkedHashMap<>();
    ConformanceRow runFailure = null;
    ConformanceRow runKnown = null;
    for (int i = 0; i < seeds; i++) {
      SchedulePolicy policy = i < (seeds + 1) / 2 ? SchedulePolicy.RANDOM : SchedulePolicy.PCT;
      long seed = i;
      RunResult r;
      try {
        r = ScenarioRun.execute(scenario, settings, registry, seed, policy);
      } catch (RuntimeException e) {
        if (runFailure == null) {
          runFailure = row(plugin, configuration, scenario, RUN_ROW, CheckStatus.FAIL, 0, seeds,
              seed, policy, "plugin threw while setting up: " + e);
        }
        continue;
      }
      Violation livelock = r.failure() != null ? declared.livelockBehind(r) : null;
      if (livelock != null && runKnown == null) {
        runKnown = row(plugin, configuration, scenario, RUN_ROW, CheckStatus.KNOWN_DIVERGENCE, 0,
            seeds, seed, policy, r.failure() + ", after the livelock LIVENESS found, "
                + declared.covering(livelock).citation() + ": " + livelock.message());
      } else if (r.failure() != null && livelock == null && runFailure == null) {
        runFailure = row(plugin, configuration, scenario, RUN_ROW, CheckStatus.FAIL, 0, seeds,
            seed, policy, r.failure().toString());
      }
      for (CheckResult c : r.checks()) {
        judged.computeIfAbsent(c.id(), k -> new long[1])[0] += c.judged();
        Map<String, Long> kinds = situations.computeIfAbsent(c.id(), k -> new LinkedHashMap<>());
        c.situations().forEach((kind, n) -> kinds.merge(kind, n, Long::sum));
        if (c.violations().isEmpty()) {
          continue;
        }
        Violation uncovered = declared.firstUncovered(c);
        if (uncovered != null && !firstFailure.containsKey(c.id())) {
          firstFailure.put(c.id(), row(plugin, configuration, scenario, c.id(), CheckStatus.FAIL,
              0, seeds, seed, policy, uncovered.message()));
        } else if (uncovered == null && !firstKnown.containsKey(c.id())) {
          Violation v = c.violations().get(0);
          firstKnown.put(c.id(), row(plugin, configuration, scenario, c.id(),
              CheckStatus.KNOWN_DIVERGENCE, 0, seeds, seed, policy,
              declared.covering(v).citation() + ": " + v.message()));
        }
      }
    }
    List<ConformanceRow> rows = new ArrayList<>();
    for (Map.Entry<String, long[]> e : judged.entrySet()) {
      ConformanceRow failure = firstFailure.getOrDefault(e.getKey(), firstKnown.get(e.getKey()));
      long count = e.getValue()[0];
      if (failure != null) {
        rows.add(new ConformanceRow(failure.arch(), failure.configuration(), failure.scenario(),
            failure.check(), failure.status(), count, seeds, failure.failingSeed(),
            failure.failingPolicy(), failure.message()));
      } else {
        rows.add(row(plugin, configuration, scenario, e.getKey(),
            count == 0 ? CheckStatus.NOT_EXERCISED : CheckStatus.PASS, count, seeds, null, null,
            null));
      }
    }
    rows.add(runFailure != null ? runFailure
        : runKnown != null ? runKnown
        : row(plugin, configuration, scenario, RUN_ROW, CheckStatus.PASS, seeds, seeds, null, null,
            null));
    return rows;
  }

  /** Every row of a cell whose configuration cannot run a VM on the model's host. */
  private static List<ConformanceRow> notApplicable(
      ArchPlugin plugin, ArchConfiguration configuration, Scenario scenario, String reason) {
    List<ConformanceRow> rows = new ArrayList<>();
    for (String id : Checker.IDS) {
      if (scenario.judgedBy(id)) {
        rows.add(row(plugin, configuration, scenario, id, CheckStatus.NOT_APPLICABLE, 0, 0, null,
            null, reason));
      }
    }
    rows.add(row(plugin, configuration, scenario, RUN_ROW, CheckStatus.NOT_APPLICABLE, 0, 0, null,
        null, reason));
    return rows;
  }

  private static ConformanceRow row(
      ArchPlugin plugin,
      ArchConfiguration configuration,
      Scenario scenario,
      String check,
      CheckStatus status,
      long judged,
      int runs,
      Long seed,
      SchedulePolicy policy,
      String message) {
    return new ConformanceRow(plugin.name(), configuration.name(), scenario.name(), check, status,
        judged, runs, seed, policy == null ? null : policy.name().toLowerCase(Locale.US), message);
  }
}
