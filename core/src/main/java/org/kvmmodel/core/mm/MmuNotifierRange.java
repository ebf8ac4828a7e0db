package org.kvmmodel.core.mm;

/**
 * The range an invalidation covers: {@code struct mmu_notifier_range}. {@code end} is
 * exclusive. A non-blockable range (only the OOM reaper raises one) lets a subscriber answer
 * {@code -EAGAIN} instead of sleeping.
 */
public record MmuNotifierRange(
    MmStruct mm, long start, long end, MmuNotifierEvent event, boolean blockable) {}
