package org.kvmmodel.mutants;

import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.scenario.Conformance;
import org.kvmmodel.core.scenario.Exploration;
import org.kvmmodel.core.scenario.RunResult;

/**
 * What hunting one mutant found: the exploration of the broken plugin and, when it failed, the
 * real plugin's run of the same schedules.
 *
 * @param control null when the mutant was not caught
 */
public record MutantVerdict(CatalogMutant mutant, Exploration hunt, Exploration control) {

  /** Whether a check (or the run itself) caught the mutant and the real plugin passed. */
  public boolean caught() {
    return hunt.foundViolation() && !control.foundViolation();
  }

  /** The check that caught it ({@link Conformance#RUN_ROW} for a failed schedule), or null. */
  public String check() {
    return hunt.foundViolation() ? hunt.check() : null;
  }

  /** Schedules run until the catch, or the whole budget. */
  public int schedules() {
    return hunt.explored();
  }

  /** The failing run as first found (its seed and policy replay it), or null. */
  public RunResult run() {
    return hunt.found();
  }

  /** The catching check's first violation in the shrunk run, or null for a failed schedule. */
  public Violation violation() {
    if (!hunt.foundViolation()) {
      return null;
    }
    for (CheckResult c : hunt.shrunk().checks()) {
      if (c.id().equals(hunt.check()) && !c.violations().isEmpty()) {
        return c.violations().get(0);
      }
    }
    return null;
  }

  /** What was seen: the violation's message, or why the schedule failed. */
  public String message() {
    Violation v = violation();
    if (v != null) {
      return v.message();
    }
    return hunt.foundViolation() ? String.valueOf(hunt.shrunk().failure()) : null;
  }
}
