package org.kvmmodel.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.kvmmodel.core.scenario.Scenario;
import org.kvmmodel.core.scenario.Scenarios;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kvmmodel scenarios}: the built-in scenarios, each with its one-line description. */
@Command(
    name = "scenarios",
    mixinStandardHelpOptions = true,
    description = "List the built-in scenarios that run, stress, explore and conformance take,"
        + " each with its one-line description.")
final class ScenariosCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<Scenario> scenarios = Scenarios.all();
    int width = scenarios.stream().mapToInt(s -> s.name().length()).max().orElse(0);
    for (Scenario s : scenarios) {
      out.printf(Locale.US, "%-" + width + "s  %s%n", s.name(), s.description());
    }
    out.flush();
    return 0;
  }
}
