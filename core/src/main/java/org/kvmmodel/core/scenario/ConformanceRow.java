package org.kvmmodel.core.scenario;

import org.kvmmodel.core.check.CheckStatus;

/**
 * One cell of the conformance matrix: a check on one arch configuration over a scenario's
 * seeds, with the situations it judged, the runs, and the first failure (its seed, schedule
 * policy and message) if any.
 */
public record ConformanceRow(
    String arch,
    String configuration,
    String scenario,
    String check,
    CheckStatus status,
    long judged,
    int runs,
    Long failingSeed,
    String failingPolicy,
    String message) {}
