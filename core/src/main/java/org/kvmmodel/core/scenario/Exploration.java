package org.kvmmodel.core.scenario;

import java.io.PrintWriter;
import java.util.Locale;
import org.kvmmodel.core.check.CheckResult;

/**
 * What {@link Explore} found: the schedules it ran and, if one broke the check, that run, its
 * shrunk replay and the {@code run} command that reproduces it.
 */
public record Exploration(
    String scenario,
    String arch,
    String configuration,
    String check,
    Long scenarioSeed,
    long fromSeed,
    int explored,
    RunResult found,
    RunResult shrunk) {

  public boolean foundViolation() {
    return found != null;
  }

  /** The {@code run} command that replays the violating run (and shrinks it again). */
  public String reproduce(String configArgument) {
    return Reproduce.run(scenario, arch, configuration, found.seed(), scenarioSeed,
        Reproduce.policy(found.policy()), configArgument);
  }

  /** Prints the violation with its shrunk story and reproduce command, or that none was found. */
  public void print(PrintWriter out, String configArgument) {
    String actions = scenarioSeed == null ? "" : String.format(Locale.US,
        " with the actions of scenario seed %d", scenarioSeed);
    if (found == null) {
      out.printf(Locale.US,
          "explore %s on %s %s%s: no violation of %s found in %d schedules (seeds %d to %d,"
              + " random and pct)%n",
          scenario, arch, configuration, actions, check, explored, fromSeed,
          fromSeed + (explored - 1) / 2);
      return;
    }
    out.printf(Locale.US, "explore %s on %s %s%s: %s violated in schedule %d (seed %d, %s)%n",
        scenario, arch, configuration, actions, check, explored, found.seed(),
        Reproduce.policy(found.policy()));
    for (CheckResult c : shrunk.checks()) {
      if (c.id().equals(check)) {
        c.violations().forEach(v -> out.println("  " + v));
      }
    }
    if (shrunk.failure() != null) {
      out.println("  run failed: " + shrunk.failure());
    }
    out.printf(Locale.US, "shrunk from %d to %d choices; its story (last events):%n",
        found.choices().length, shrunk.choices().length);
    shrunk.story().forEach(line -> out.println("  " + line));
    out.println("reproduce: " + reproduce(configArgument));
  }
}
