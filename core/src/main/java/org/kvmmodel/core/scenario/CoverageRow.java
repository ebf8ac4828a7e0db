package org.kvmmodel.core.scenario;

import org.kvmmodel.core.check.CheckStatus;

/**
 * One kind of situation a check judges, over every configuration and scenario of one arch in a
 * conformance run: how often it was judged, and its status: {@code pass} if judged at all,
 * {@code not-applicable} with the plugin's reason if the arch declares it impossible, else
 * {@code not-exercised}, which fails the run.
 */
public record CoverageRow(
    String arch, String check, String kind, long judged, CheckStatus status, String reason) {}
