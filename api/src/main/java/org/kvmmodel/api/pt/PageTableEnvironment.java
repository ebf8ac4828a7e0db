package org.kvmmodel.api.pt;

import java.util.Objects;

/**
 * What a VM gives the page tables its arch builds: where table pages come from (KVM's MMU
 * memory caches), how unlinked ones are freed (after an RCU grace period), who observes every
 * change (the model's checks and event log), the race point before each atomic update, and
 * where a range walk resumes after yielding mmu_lock. Core provides one per VM, so a plugin's
 * tables cannot escape the checks.
 *
 * @param observer may be null: no observation, no cost
 */
public record PageTableEnvironment(
    PageTableAllocator allocator,
    DeferredFree deferredFree,
    PageTableObserver observer,
    EntryRaceHook raceHook,
    WalkRestart walkRestart) {

  public PageTableEnvironment {
    Objects.requireNonNull(allocator, "allocator");
    Objects.requireNonNull(deferredFree, "deferredFree");
    Objects.requireNonNull(raceHook, "raceHook");
    Objects.requireNonNull(walkRestart, "walkRestart");
  }

  /** An environment whose walks resume where they yielded, as every kernel since the fix. */
  public PageTableEnvironment(PageTableAllocator allocator, DeferredFree deferredFree,
      PageTableObserver observer, EntryRaceHook raceHook) {
    this(allocator, deferredFree, observer, raceHook, WalkRestart.AT_YIELDED_ENTRY);
  }
}
