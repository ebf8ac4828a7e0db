package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.List;

/**
 * A check's verdict on one run: how many situations it judged and the violations it saw. A
 * check that judged nothing has not been exercised, which fails like a violation.
 */
public record CheckResult(String id, long judged, List<Violation> violations) {

  public CheckResult {
    violations = List.copyOf(violations);
  }

  /** This check's verdict together with {@code other}'s (the same check on another VM). */
  public CheckResult plus(CheckResult other) {
    if (!other.id.equals(id)) {
      throw new IllegalArgumentException(other.id + " is not " + id);
    }
    List<Violation> all = new ArrayList<>(violations);
    all.addAll(other.violations);
    return new CheckResult(id, judged + other.judged, all);
  }

  public CheckStatus status() {
    if (!violations.isEmpty()) {
      return CheckStatus.FAIL;
    }
    return judged == 0 ? CheckStatus.NOT_EXERCISED : CheckStatus.PASS;
  }
}
