package org.kvmmodel.core.scenario;

import java.util.List;

/** A conformance run: the arch × configuration × scenario × check matrix and the coverage. */
public record ConformanceReport(List<ConformanceRow> rows, List<CoverageRow> coverage) {

  public ConformanceReport {
    rows = List.copyOf(rows);
    coverage = List.copyOf(coverage);
  }

  /** Whether anything in it fails the run: a failed or unexercised cell or kind. */
  public boolean fails() {
    return rows.stream().anyMatch(r -> r.status().failsRun())
        || coverage.stream().anyMatch(c -> c.status().failsRun());
  }
}
