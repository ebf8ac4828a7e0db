package org.kvmmodel.core.check;

/**
 * One breach of an invariant: the check, the event at which it was seen, the actor, the kernel
 * function (a KVM entry point, {@link org.kvmmodel.core.kvm.KvmCallSites}) the actor was in,
 * or null when it was in none, and what happened, worded for a KVM developer.
 */
public record Violation(String check, long seq, String actor, String site, String message) {

  @Override
  public String toString() {
    return check + ": " + message + " (event " + seq + ", " + actor + ")";
  }
}
