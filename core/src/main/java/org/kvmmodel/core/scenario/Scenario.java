package org.kvmmodel.core.scenario;

import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;

/**
 * A scenario: a VM, its vCPUs' guest programs and the host activity racing them, all drawn
 * from the run's choice stream, with a bound on scheduler steps past which the run is a
 * liveness failure.
 */
public interface Scenario {

  /** The name used on the command line, e.g. {@code demand-paging}. */
  String name();

  /** One line saying what it exercises and where it comes from. */
  String description();

  /** Race points one run may take: by default 50,000, far above what a run of a few vCPUs needs. */
  default long stepBound() {
    return 50_000;
  }

  /**
   * Whether the scenario harvests a dirty log (KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG) while
   * guests write, which DIRTY-LOG-COMPLETE needs to judge anything.
   */
  default boolean harvestsDirtyLog() {
    return false;
  }

  /**
   * Whether the check called {@code checkId} judges this scenario; a check whose situations the
   * scenario never creates is not attached: DIRTY-LOG-COMPLETE only where the dirty log is
   * harvested.
   */
  default boolean judgedBy(String checkId) {
    return harvestsDirtyLog() || !checkId.equals(DirtyLogCompleteCheck.ID);
  }

  /**
   * Why KVM refuses this scenario's memory layout on {@code configuration}, or null when it
   * runs there; such a cell is reported {@code not-applicable} with the reason.
   */
  default String unsupportedReason(ArchConfiguration configuration) {
    return null;
  }

  /**
   * Whether the scenario composes its VM from the choice stream, so that each seed is another
   * scenario; {@code conformance} runs it for its generated-scenario budget rather than its
   * seed count.
   */
  default boolean composedFromSeed() {
    return false;
  }

  /** Creates the VM's memory and memslots and spawns the actors of one run. */
  void setUp(ScenarioRun run);
}
