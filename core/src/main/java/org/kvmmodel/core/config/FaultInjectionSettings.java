package org.kvmmodel.core.config;

/**
 * {@code kvmmodel.fault-injection}: percentages of opportunities at which an error path is
 * taken on purpose.
 */
public record FaultInjectionSettings(
    int gupEfault, int gupHwpoison, int cacheEnomem, int cmpxchgLoss) {

  public static final FaultInjectionSettings NONE = new FaultInjectionSettings(0, 0, 0, 0);
}
