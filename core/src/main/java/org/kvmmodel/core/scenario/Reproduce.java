package org.kvmmodel.core.scenario;

import java.util.Locale;
import org.kvmmodel.core.sched.SchedulePolicy;

/** The command lines a report prints so that a user can replay or hunt what it found. */
public final class Reproduce {

  private Reproduce() {}

  /**
   * The {@code run} command that replays one deterministic run exactly: its schedule seed and
   * policy, and its scenario seed when the actions came from another seed than the schedule.
   */
  public static String run(
      String scenario,
      String arch,
      String configuration,
      long seed,
      Long scenarioSeed,
      String policy,
      String configArgument) {
    return String.format(Locale.US, "./kvmmodel run %s --arch %s --arch-config %s --seed %d%s --policy %s%s",
        scenario, arch, configuration, seed,
        scenarioSeed == null ? "" : " --scenario-seed " + scenarioSeed, policy, configArgument);
  }

  /**
   * The {@code explore} command that searches deterministic schedules of a scenario, with the
   * actions {@code scenarioSeed} draws, for a violation of {@code check}.
   */
  public static String explore(
      String scenario, String arch, String configuration, String check, long scenarioSeed,
      String configArgument) {
    return String.format(Locale.US,
        "./kvmmodel explore %s --arch %s --arch-config %s --check %s --scenario-seed %d%s",
        scenario, arch, configuration, check, scenarioSeed, configArgument);
  }

  /** A policy as the command line spells it. */
  public static String policy(SchedulePolicy policy) {
    return policy.name().toLowerCase(Locale.US);
  }
}
