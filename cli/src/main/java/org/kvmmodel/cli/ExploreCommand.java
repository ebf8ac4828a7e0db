package org.kvmmodel.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.scenario.Exploration;
import org.kvmmodel.core.scenario.Explore;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code kvmmodel explore SCENARIO --check ID}: deterministic schedules searched for a violation. */
@Command(
    name = "explore",
    mixinStandardHelpOptions = true,
    description = {
      "Search deterministic schedules of one scenario for a violation of one check: seeds from",
      "--from-seed on, each with a random schedule and then PCT, until a run breaks the check",
      "or --budget runs are spent. A violation is shrunk; its story and the run command that",
      "reproduces it are printed (exit 1). Finding none within the budget is exit 0.",
      "Checks: DIRTY-PROTECTED, REFCOUNT-BALANCED, NO-STALE-MAPPING, TLB-COHERENT, PERMISSIONS,",
      "LOCK-DISCIPLINE, NO-LOST-WRITE, DIRTY-LOG-COMPLETE, ISOLATION, and run (the schedule",
      "itself failed: an exception, a deadlock, no progress)."
    })
final class ExploreCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Mixin private ArchOptions options;

  @Parameters(
      index = "0",
      paramLabel = "SCENARIO",
      completionCandidates = ScenarioNames.class,
      description = "The scenario to explore: ${COMPLETION-CANDIDATES}.")
  private String scenarioName;

  @Option(names = "--check", required = true, paramLabel = "ID", description = "The check to violate.")
  private String check;

  @Option(
      names = "--scenario-seed",
      paramLabel = "N",
      description = "Keep the actions this seed draws (a stress failure's seed); only the schedule"
          + " varies (default: each seed draws both).")
  private Long scenarioSeed;

  @Option(names = "--from-seed", paramLabel = "N", description = "First schedule seed (default: 0).")
  private long fromSeed;

  @Option(names = "--budget", paramLabel = "N", description = "Runs to try at most (default: 1000).")
  private int budget = 1000;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ArchPluginRegistry registry = ArchPluginRegistry.discover(Main.class.getClassLoader());
    Exploration result;
    try (TerminalProgress progress = TerminalProgress.of("explore", budget)) {
      Scenario scenario = Scenarios.byName(scenarioName);
      ModelSettings settings = options.settings(registry);
      result = Explore.search(
          scenario, settings, registry, check, scenarioSeed, fromSeed, budget, progress);
    } catch (IllegalArgumentException | SettingsException e) {
      err.println("kvmmodel explore: " + e.getMessage());
      return Main.EXIT_USAGE;
    }
    result.print(out, options.config.reproduceArgument());
    out.flush();
    return result.foundViolation() ? Main.EXIT_CHECK_FAILED : 0;
  }
}
