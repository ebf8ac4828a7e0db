package org.kvmmodel.api.kvm;

/**
 * {@code struct kvm_gfn_range}: the part of one memslot an mmu_notifier callback covers,
 * handed to the arch's {@code kvm_unmap_gfn_range}, {@code kvm_age_gfn} and
 * {@code kvm_test_age_gfn}.
 *
 * @param slot the memslot
 * @param start first gfn
 * @param end one past the last gfn
 * @param mayBlock whether the handler may yield mmu_lock
 */
public record GfnRange(MemorySlot slot, long start, long end, boolean mayBlock) {

  public GfnRange {
    if (end <= start) {
      throw new IllegalArgumentException("empty gfn range " + start + ".." + end);
    }
  }
}
