package org.kvmmodel.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.kvmmodel.api.KnownDivergence;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.KnownDivergences;
import org.kvmmodel.core.scenario.Reproduce;
import org.kvmmodel.core.scenario.RunResult;
import org.kvmmodel.core.scenario.RunShrink;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.ScenarioRun;
import org.kvmmodel.core.scenario.Scenarios;
import org.kvmmodel.core.sched.SchedulePolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kvmmodel run SCENARIO}: one deterministic run, its counters and every check's verdict. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Run one scenario once in deterministic mode and judge it with every check."
    })
final class RunCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Mixin private ConfigOption config;

  @Parameters(
      index = "0",
      paramLabel = "SCENARIO",
      completionCandidates = ScenarioNames.class,
      description = "The scenario to run: ${COMPLETION-CANDIDATES}.")
  private String scenarioName;

  @Option(names = "--arch", paramLabel = "NAME", description = "Architecture plugin (default: the config's).")
  private String arch;

  @Option(
      names = "--arch-config",
      paramLabel = "NAME",
      description = "One of the plugin's configurations (default: the config's, else its first).")
  private String archConfiguration;

  @Option(names = "--seed", paramLabel = "N", description = "Seed of the choice stream (default: the config's).")
  private Long seed;

  @Option(
      names = "--scenario-seed",
      paramLabel = "N",
      description = "Draw the scenario's actions from this seed and only the schedule from --seed"
          + " (as explore does for a stress failure).")
  private Long scenarioSeed;

  @Option(
      names = "--policy",
      paramLabel = "POLICY",
      description = "Schedule policy: random or pct (default: random).")
  private String policy = "random";

  @Option(
      names = "--trace-out",
      paramLabel = "FILE",
      description = "Write the run's last events to FILE as JSON lines.")
  private File traceOut;

  @Option(
      names = "--story",
      description = "Print the run's last events, one per line (a failing run always prints the"
          + " story of its shrunk replay).")
  private boolean story;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Scenario scenario;
    SchedulePolicy schedulePolicy;
    ModelSettings settings;
    ArchPluginRegistry registry = ArchPluginRegistry.discover(Main.class.getClassLoader());
    KnownDivergences declared;
    try {
      scenario = Scenarios.byName(scenarioName);
      schedulePolicy = parsePolicy(policy);
      settings = config.settings(arch, archConfiguration);
      ArchSelection selection = ArchSelection.select(settings, registry);
      declared = KnownDivergences.of(selection.plugin(), selection.version());
    } catch (IllegalArgumentException | SettingsException e) {
      err.println("kvmmodel run: " + e.getMessage());
      return Main.EXIT_USAGE;
    }
    long runSeed = seed != null ? seed : settings.seed();
    RunResult r =
        scenarioSeed == null
            ? ScenarioRun.execute(scenario, settings, registry, runSeed, schedulePolicy)
            : ScenarioRun.execute(scenario, settings, registry, scenarioSeed, runSeed, schedulePolicy);
    out.printf(Locale.US, "%s on %s %s, seed %d%s, %s: %d scheduler steps%n", r.scenario(), r.arch(),
        r.configuration(), r.seed(), scenarioSeed == null ? "" : " (scenario seed " + scenarioSeed + ")",
        schedulePolicy.name().toLowerCase(Locale.US), r.steps());
    for (Map.Entry<String, Long> e : r.counters().entrySet()) {
      out.printf(Locale.US, "  %-24s %d%n", e.getKey(), e.getValue());
    }
    out.println("checks:");
    boolean failed = false;
    for (CheckResult c : r.checks()) {
      boolean known = !c.violations().isEmpty() && declared.firstUncovered(c) == null;
      CheckStatus status = known ? CheckStatus.KNOWN_DIVERGENCE : c.status();
      failed |= status.failsRun();
      out.printf(Locale.US, "  %-20s %-16s judged %d%n", c.id(), status.label(), c.judged());
      for (Violation v : c.violations()) {
        out.println("    " + v);
        KnownDivergence d = declared.covering(v);
        if (d != null) {
          out.println("      " + d.citation());
        }
      }
    }
    Violation livelock = declared.livelockBehind(r);
    if (livelock != null) {
      out.println("run stopped: " + r.failure() + ", after the livelock LIVENESS found, a known"
          + " divergence");
    } else if (r.failure() != null) {
      failed = true;
      out.println("run failed: " + r.failure());
    }
    if (traceOut != null) {
      try (Writer w = Files.newBufferedWriter(traceOut.toPath(), StandardCharsets.UTF_8)) {
        r.log().writeJsonLines(w);
      } catch (IOException e) {
        err.println("kvmmodel run: cannot write " + traceOut + ": " + e.getMessage());
        return Main.EXIT_USAGE;
      }
    }
    if (failed) {
      RunResult shrunk = RunShrink.sameFailure(scenario, settings, registry, r);
      out.printf(Locale.US, "shrunk from %d to %d choices; its story (last events):%n",
          r.choices().length, shrunk.choices().length);
      shrunk.story().forEach(line -> out.println("  " + line));
    } else if (story) {
      out.println("story (last events):");
      r.story().forEach(line -> out.println("  " + line));
    }
    if (failed) {
      out.printf(Locale.US, "reproduce: %s%n", Reproduce.run(r.scenario(), r.arch(),
          r.configuration(), r.seed(), scenarioSeed, policy, config.reproduceArgument()));
    }
    out.flush();
    return failed ? Main.EXIT_CHECK_FAILED : 0;
  }

  /** The command that replays a run exactly. */
  static String reproduce(
      String scenario, String arch, String configuration, long seed, String policy, String config) {
    return Reproduce.run(scenario, arch, configuration, seed, null, policy, config);
  }

  static SchedulePolicy parsePolicy(String text) {
    switch (text.toLowerCase(Locale.US)) {
      case "random":
        return SchedulePolicy.RANDOM;
      case "pct":
        return SchedulePolicy.PCT;
      default:
        throw new IllegalArgumentException(
            "unknown policy '" + text + "' (allowed: random, pct)");
    }
  }
}
