package org.kvmmodel.core.check;

import java.util.Locale;

/** What a check concluded over a run or a set of runs. */
public enum CheckStatus {
  PASS,
  FAIL,
  NOT_APPLICABLE,
  NOT_EXERCISED,
  KNOWN_DIVERGENCE;

  /** The report spelling: {@code pass}, {@code not-exercised}, ... */
  public String label() {
    return name().toLowerCase(Locale.US).replace('_', '-');
  }

  /** Whether this status makes a run's exit status non-zero. */
  public boolean failsRun() {
    return this == FAIL || this == NOT_EXERCISED;
  }
}
