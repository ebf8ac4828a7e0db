package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A check's verdict on one run: how many situations it judged, how many of each kind it names
 * ({@link Facet}), and the violations it saw. A check that judged nothing has not been
 * exercised, which fails like a violation.
 */
public record CheckResult(
    String id, long judged, List<Violation> violations, Map<String, Long> situations) {

  public CheckResult {
    violations = List.copyOf(violations);
    situations = Collections.unmodifiableMap(new LinkedHashMap<>(situations));
  }

  /** This check's verdict together with {@code other}'s (the same check on another VM). */
  public CheckResult plus(CheckResult other) {
    if (!other.id.equals(id)) {
      throw new IllegalArgumentException(other.id + " is not " + id);
    }
    List<Violation> all = new ArrayList<>(violations);
    all.addAll(other.violations);
    Map<String, Long> kinds = new LinkedHashMap<>(situations);
    other.situations.forEach((k, n) -> kinds.merge(k, n, Long::sum));
    return new CheckResult(id, judged + other.judged, all, kinds);
  }

  public CheckStatus status() {
    if (!violations.isEmpty()) {
      return CheckStatus.FAIL;
    }
    return judged == 0 ? CheckStatus.NOT_EXERCISED : CheckStatus.PASS;
  }
}
