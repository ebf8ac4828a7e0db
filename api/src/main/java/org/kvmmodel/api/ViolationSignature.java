package org.kvmmodel.api;

import java.util.Objects;
import java.util.function.Predicate;

/**
 * What a known divergence looks like when it happens: a predicate over the
 * {@link ViolationEvidence} of one violation (its kind and the events that led to it), with the
 * sentence reports print for it. A declaration matches only the breach it describes, so a
 * second, different bug of the same check in the same kernel function still fails.
 */
public final class ViolationSignature {

  private final String description;
  private final Predicate<ViolationEvidence> test;

  private ViolationSignature(String description, Predicate<ViolationEvidence> test) {
    this.description = Objects.requireNonNull(description, "description");
    this.test = Objects.requireNonNull(test, "test");
  }

  /** A signature described by {@code description} that matches what {@code test} accepts. */
  public static ViolationSignature of(String description, Predicate<ViolationEvidence> test) {
    return new ViolationSignature(description, test);
  }

  /** A signature matching every violation of the kind {@code kind} (a check's documented kind). */
  public static ViolationSignature ofKind(String kind) {
    return of("a violation of kind " + kind, v -> kind.equals(v.kind()));
  }

  public boolean matches(ViolationEvidence evidence) {
    return test.test(evidence);
  }

  public String description() {
    return description;
  }

  @Override
  public String toString() {
    return description;
  }
}
