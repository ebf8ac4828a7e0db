package org.kvmmodel.core.sched;

/**
 * Thrown into every actor still running once a deterministic run has failed, so that each
 * unwinds at its next race point. An {@link Error}, so model code that handles exceptions does
 * not swallow it.
 */
final class ScheduleAbort extends Error {

  private static final long serialVersionUID = 1L;

  ScheduleAbort() {
    super("deterministic run aborted", null, false, false);
  }
}
