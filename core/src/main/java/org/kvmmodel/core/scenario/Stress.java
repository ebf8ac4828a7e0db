package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;

/**
 * Free-mode stress: a scenario run again and again on real threads, iteration {@code i} with its
 * actions drawn from seed {@code firstSeed + i} and its interleaving left to the hardware,
 * every check judging each iteration's events. It stops at the first iteration that breaks a
 * check or whose actors fail, so that its seed and event log are the ones reported. A violation
 * the plugin declares real KVM has at the modelled version (that check, in that kernel
 * function) is noted, with its first message, as a known divergence and does not stop the
 * stress; a violation of the same check elsewhere does.
 */
public final class Stress {

  private Stress() {}

  /** Runs up to {@code iterations} free runs; {@code progress} is told after each. */
  public static StressReport run(
      Scenario scenario,
      ModelSettings settings,
      ArchPluginRegistry registry,
      long firstSeed,
      int iterations,
      IntConsumer progress) {
    if (iterations < 1) {
      throw new IllegalArgumentException("--iterations must be at least 1");
    }
    KnownDivergences declared =
        KnownDivergences.of(ArchSelection.select(settings, registry).plugin(),
            settings.kvmVersion());
    Map<String, Long> counters = new LinkedHashMap<>();
    Map<String, Long> judged = new LinkedHashMap<>();
    Map<String, String> known = new LinkedHashMap<>();
    RunResult last = null;
    for (int i = 0; i < iterations; i++) {
      last = ScenarioRun.executeFree(scenario, settings, registry, firstSeed + i);
      last.counters().forEach((k, v) -> counters.merge(k, v, Long::sum));
      boolean failed = last.failure() != null;
      List<Violation> violations = new ArrayList<>();
      for (CheckResult c : last.checks()) {
        judged.merge(c.id(), c.judged(), Long::sum);
        if (c.violations().isEmpty()) {
          continue;
        }
        List<Violation> uncovered = uncoveredOf(declared, c);
        if (!uncovered.isEmpty()) {
          failed = true;
          violations.addAll(uncovered);
        } else {
          Violation v = c.violations().get(0);
          known.putIfAbsent(c.id(), declared.covering(v).citation() + ": " + v.message());
        }
      }
      progress.accept(i + 1);
      if (failed) {
        return new StressReport(scenario.name(), last.arch(), last.configuration(), firstSeed,
            i + 1, counters, judged, known, last, violations);
      }
    }
    return new StressReport(scenario.name(), last.arch(), last.configuration(), firstSeed,
        iterations, counters, judged, known, null, List.of());
  }

  private static List<Violation> uncoveredOf(KnownDivergences declared, CheckResult c) {
    List<Violation> uncovered = new ArrayList<>();
    for (Violation v : c.violations()) {
      if (declared.covering(v) == null) {
        uncovered.add(v);
      }
    }
    return uncovered;
  }
}
