package org.kvmmodel.core.scenario;

import java.util.List;
import java.util.Map;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.sched.ScheduleFailure;
import org.kvmmodel.core.sched.SchedulePolicy;
import org.kvmmodel.core.trace.EventLog;

/**
 * The outcome of one run (deterministic, or free with a null policy): what was run, whether the
 * schedule itself failed (an exception, a deadlock, the step bound), each check's verdict, the
 * counters, the recorded choices (which replay a deterministic run), its event log (the
 * story of its last events) and how many new leaves larger than a page PERMISSIONS judged over
 * all its VMs (0 when the scenario is not judged by PERMISSIONS).
 */
public record RunResult(
    String scenario,
    String arch,
    String configuration,
    long seed,
    SchedulePolicy policy,
    long steps,
    ScheduleFailure failure,
    List<CheckResult> checks,
    Map<String, Long> counters,
    int[] choices,
    EventLog log,
    long hugeLeavesJudged) {

  /** The run's last events, one line each ({@code actor kernel-function object outcome}). */
  public List<String> story() {
    return log.story();
  }

  /**
   * Whether the run broke the check called {@code id}; for {@link Conformance#RUN_ROW}, whether
   * its schedule failed (an exception, a deadlock, no progress).
   */
  public boolean violates(String id) {
    if (id.equals(Conformance.RUN_ROW)) {
      return failure != null;
    }
    return checks.stream().anyMatch(c -> c.id().equals(id) && !c.violations().isEmpty());
  }

  /**
   * The first check in report order that the run broke, else {@link Conformance#RUN_ROW} if its
   * schedule failed, else null.
   */
  public String firstViolated() {
    for (CheckResult c : checks) {
      if (!c.violations().isEmpty()) {
        return c.id();
      }
    }
    return failure != null ? Conformance.RUN_ROW : null;
  }

  /** Whether the run failed: the schedule failed or a check found a violation. */
  public boolean failed() {
    return failure != null || checks.stream().anyMatch(c -> !c.violations().isEmpty());
  }
}
