package org.kvmmodel.core.scenario;

/**
 * An outcome a scenario expects of KVM on every architecture (an exit, a dirty-log bit, the
 * state of a stage-2 leaf) that the run did not show. The actor that observed it throws it,
 * which ends the run as a failure ({@link org.kvmmodel.core.sched.ScheduleFailure.Kind#EXCEPTION})
 * with this message, reported in the conformance matrix's {@code run} row with the seed that
 * replays it.
 */
public final class UnmetExpectation extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public UnmetExpectation(String message) {
    super(message);
  }
}
