package org.kvmmodel.core.sched;

/**
 * Why a deterministic run stopped early: an actor threw, the actors deadlocked, or the run
 * exceeded its step bound (a liveness failure).
 */
public record ScheduleFailure(Kind kind, String actor, String message, Throwable cause) {

  /** The kinds of early stop. */
  public enum Kind {
    EXCEPTION,
    DEADLOCK,
    STEP_BOUND
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.US) + " in " + actor + ": " + message;
  }
}
