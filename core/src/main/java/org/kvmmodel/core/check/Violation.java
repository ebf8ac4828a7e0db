package org.kvmmodel.core.check;

/**
 * One breach of an invariant: the check, the event at which it was seen, the actor and what
 * happened, worded for a KVM developer.
 */
public record Violation(String check, long seq, String actor, String message) {

  @Override
  public String toString() {
    return check + ": " + message + " (event " + seq + ", " + actor + ")";
  }
}
