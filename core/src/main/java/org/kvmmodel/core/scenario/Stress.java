package org.kvmmodel.core.scenario;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.plugin.ArchPluginRegistry;

/**
 * Free-mode stress: a scenario run again and again on real threads, iteration {@code i} with its
 * actions drawn from seed {@code firstSeed + i} and its interleaving left to the hardware,
 * every check judging each iteration's events. It stops at the first iteration that breaks a
 * check or whose actors fail, so that its seed and event log are the ones reported.
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
    Map<String, Long> counters = new LinkedHashMap<>();
    Map<String, Long> judged = new LinkedHashMap<>();
    RunResult last = null;
    for (int i = 0; i < iterations; i++) {
      last = ScenarioRun.executeFree(scenario, settings, registry, firstSeed + i);
      last.counters().forEach((k, v) -> counters.merge(k, v, Long::sum));
      for (CheckResult c : last.checks()) {
        judged.merge(c.id(), c.judged(), Long::sum);
      }
      progress.accept(i + 1);
      if (last.failed()) {
        return new StressReport(scenario.name(), last.arch(), last.configuration(), firstSeed,
            i + 1, counters, judged, last);
      }
    }
    return new StressReport(scenario.name(), last.arch(), last.configuration(), firstSeed,
        iterations, counters, judged, null);
  }
}
