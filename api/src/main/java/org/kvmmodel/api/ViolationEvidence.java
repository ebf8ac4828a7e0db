package org.kvmmodel.api;

import java.util.List;

/**
 * What a check saw happen when an invariant broke, as a known-divergence signature judges it:
 * the check, the kernel function (the innermost KVM entry point the violating actor was in, or
 * null), the kind of breach the check names in its documentation (for DIRTY-PROTECTED, e.g.
 * {@code retry-fired}), and the violating actor's own events inside that entry point, oldest
 * first, ending with the one at which the breach was seen.
 */
public record ViolationEvidence(
    String check, String kernelFunction, String kind, List<KernelEvent> events) {

  public ViolationEvidence {
    events = List.copyOf(events);
  }

  /** Whether any of the events is a {@code name} event. */
  public boolean saw(String name) {
    return events.stream().anyMatch(e -> e.is(name));
  }

  /** Whether any of the events is a {@code name} event whose {@code field} is {@code value}. */
  public boolean saw(String name, String field, long value) {
    return events.stream().anyMatch(e -> e.is(name, field, value));
  }

  /**
   * The events from the last {@code name} event on (itself included), e.g. the current hold
   * of mmu_lock with {@code sinceLast("mmu_lock")}; the evidence is empty if none is there.
   */
  public ViolationEvidence sinceLast(String name) {
    for (int i = events.size() - 1; i >= 0; i--) {
      if (events.get(i).is(name)) {
        return new ViolationEvidence(check, kernelFunction, kind, events.subList(i, events.size()));
      }
    }
    return new ViolationEvidence(check, kernelFunction, kind, List.of());
  }
}
