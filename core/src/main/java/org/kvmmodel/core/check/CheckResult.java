package org.kvmmodel.core.check;

import java.util.List;

/**
 * A check's verdict on one run: how many situations it judged and the violations it saw. A
 * check that judged nothing has not been exercised, which fails like a violation.
 */
public record CheckResult(String id, long judged, List<Violation> violations) {

  public CheckResult {
    violations = List.copyOf(violations);
  }

  public CheckStatus status() {
    if (!violations.isEmpty()) {
      return CheckStatus.FAIL;
    }
    return judged == 0 ? CheckStatus.NOT_EXERCISED : CheckStatus.PASS;
  }
}
