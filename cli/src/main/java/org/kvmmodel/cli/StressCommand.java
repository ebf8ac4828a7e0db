package org.kvmmodel.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.scenario.Stress;
import org.kvmmodel.core.scenario.StressReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kvmmodel stress SCENARIO}: the scenario run many times on real threads. */
@Command(
    name = "stress",
    mixinStandardHelpOptions = true,
    description = {
      "Run one scenario many times in free mode (real threads, real locks and atomics), each",
      "run's actions from its own seed, every check judging every run. A violation prints the",
      "check, the run's seed, the file its event log was written to and the explore command",
      "that hunts the same violation in deterministic mode."
    })
final class StressCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Mixin private ArchOptions options;

  @Parameters(
      index = "0",
      paramLabel = "SCENARIO",
      completionCandidates = ScenarioNames.class,
      description = "The scenario to stress: ${COMPLETION-CANDIDATES}.")
  private String scenarioName;

  @Option(names = "--iterations", paramLabel = "N", description = "Runs (default: 200).")
  private int iterations = 200;

  @Option(
      names = "--seed",
      paramLabel = "N",
      description = "Seed of the first run; run i uses seed N+i (default: the config's).")
  private Long seed;

  @Option(
      names = "--trace-out",
      paramLabel = "FILE",
      description = "Where a failing run's event log goes, as JSON lines"
          + " (default: stress-SCENARIO-ARCH-CONFIG-seedN.jsonl here).")
  private File traceOut;

  @Option(names = "--timings", description = "Also print the wall-clock time taken.")
  private boolean timings;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ArchPluginRegistry registry = ArchPluginRegistry.discover(Main.class.getClassLoader());
    Scenario scenario;
    ModelSettings settings;
    try {
      scenario = Scenarios.byName(scenarioName);
      settings = options.settings(registry);
      if (iterations < 1) {
        throw new IllegalArgumentException("--iterations must be at least 1");
      }
    } catch (IllegalArgumentException | SettingsException e) {
      err.println("kvmmodel stress: " + e.getMessage());
      return Main.EXIT_USAGE;
    }
    long began = System.nanoTime();
    StressReport report;
    try (TerminalProgress progress = TerminalProgress.of("stress", iterations)) {
      report =
          Stress.run(scenario, settings, registry, seed != null ? seed : settings.seed(),
              iterations, progress);
    }
    long elapsed = System.nanoTime() - began;
    Path trace = null;
    if (report.failed()) {
      trace = traceOut != null ? traceOut.toPath() : Path.of(report.defaultTraceFile());
      try {
        report.writeTrace(trace);
      } catch (IOException e) {
        err.println("kvmmodel stress: cannot write " + trace + ": " + e.getMessage());
        return Main.EXIT_USAGE;
      }
    }
    report.print(out, trace, options.config.reproduceArgument());
    if (timings) {
      out.printf(Locale.US, "time: %.3f s, %.1f runs/s%n", elapsed / 1e9,
          report.runs() / (elapsed / 1e9));
    }
    out.flush();
    return report.passed() ? 0 : Main.EXIT_CHECK_FAILED;
  }
}
