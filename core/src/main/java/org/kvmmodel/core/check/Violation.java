package org.kvmmodel.core.check;

import java.util.List;
import org.kvmmodel.api.KernelEvent;
import org.kvmmodel.api.ViolationEvidence;

/**
 * One breach of an invariant: the check, the event at which it was seen, the actor, the kernel
 * function (a KVM entry point, {@link org.kvmmodel.core.kvm.KvmCallSites}) the actor was in,
 * or null when it was in none, the kind of breach (one the check's javadoc names), what
 * happened, worded for a KVM developer, and the actor's events that led to it.
 */
public record Violation(
    String check,
    long seq,
    String actor,
    String site,
    String kind,
    String message,
    List<KernelEvent> events) {

  public Violation {
    events = List.copyOf(events);
  }

  /** What a known-divergence signature judges of it. */
  public ViolationEvidence evidence() {
    return new ViolationEvidence(check, site, kind, events);
  }

  @Override
  public String toString() {
    return check + ": " + message + " (event " + seq + ", " + actor + ")";
  }
}
