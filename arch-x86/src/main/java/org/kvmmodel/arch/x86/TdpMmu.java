package org.kvmmodel.arch.x86;

import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The x86 TDP MMU's hooks for common KVM ({@code arch/x86/kvm/mmu/mmu.c},
 * {@code tdp_mmu.c}, {@code arch/x86/kvm/x86.c}) over one EPT root: unmapping and aging for
 * mmu_notifier callbacks, memslot preparation and commit (write-protecting a slot when dirty
 * logging is enabled), and the masked re-protection of dirty-log harvests. Common code holds
 * mmu_lock for write around the notifier and harvest hooks; enabling logging takes it for read,
 * as {@code kvm_mmu_slot_remove_write_access} does for TDP roots.
 */
final class TdpMmu implements ArchMmu {

  private final Kvm kvm;
  private final EptPageTableFormat format;
  private final RadixMmuOps ops;
  private final long maxGfn;

  TdpMmu(Kvm kvm, EptPageTableFormat format) {
    this.kvm = kvm;
    this.format = format;
    this.ops = new RadixMmuOps(kvm, RadixPageTable.create(format, kvm.pageTables()));
    this.maxGfn = (1L << (Math.min(format.geometry().addressBits(), 52) - 12)) - 1;
  }

  /** The EPT root this MMU maintains. */
  RadixPageTable root() {
    return ops.table();
  }

  EptPageTableFormat format() {
    return format;
  }

  /** {@code kvm_unmap_gfn_range} → {@code kvm_tdp_mmu_unmap_gfn_range}: zap leaves. */
  @Override
  public boolean unmapGfnRange(GfnRange range) {
    kvm.mmuLock().assertHeldExclusive("kvm_unmap_gfn_range");
    return ops.unmap(range);
  }

  /** {@code kvm_age_gfn} → {@code kvm_tdp_mmu_age_gfn_range}. */
  @Override
  public boolean ageGfn(GfnRange range) {
    return ops.age(range);
  }

  /** {@code kvm_test_age_gfn} → {@code kvm_tdp_mmu_test_age_gfn}. */
  @Override
  public boolean testAgeGfn(GfnRange range) {
    return ops.testAge(range);
  }

  /**
   * {@code kvm_arch_prepare_memory_region}: a slot beyond {@code kvm_mmu_max_gfn} is -EINVAL;
   * the model keeps no per-slot metadata that could fail to allocate.
   */
  @Override
  public int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if ((change == MemoryChange.CREATE || change == MemoryChange.MOVE)
        && updated.baseGfn() + updated.npages() - 1 > maxGfn) {
      return Errno.EINVAL.negative();
    }
    return 0;
  }

  /**
   * {@code kvm_mmu_slot_apply_flags}: when a FLAGS_ONLY change turns dirty logging on (and the
   * bitmap is not initially all set), write-protect the whole slot and flush.
   */
  @Override
  public void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change != MemoryChange.FLAGS_ONLY || updated.isReadonly()) {
      return;
    }
    boolean enabling = updated.dirtyLogEnabled() && !old.dirtyLogEnabled();
    if (!enabling || kvm.dirtyLogManualProtectAndInitSet()) {
      return;
    }
    kvm.mmuLock().readLock();
    try {
      ops.writeProtectSlot(updated);
    } finally {
      kvm.mmuLock().readUnlock();
    }
    kvm.flushRemoteTlbsRange(updated.baseGfn(), updated.npages());
  }

  /**
   * {@code kvm_arch_flush_shadow_memslot} with {@code KVM_X86_QUIRK_SLOT_ZAP_ALL} disabled
   * ({@code kvm_mmu_zap_memslot}): zap the slot's leaves under the write lock and flush. The
   * quirk's default, zapping every root by invalidating it, needs multiple roots.
   */
  @Override
  public void flushShadowMemslot(MemorySlot slot) {
    kvm.mmuLock().lock();
    try {
      ops.zapSlot(slot);
      kvm.flushRemoteTlbsRange(slot.baseGfn(), slot.npages());
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /** {@code kvm_arch_flush_shadow_all} → {@code kvm_mmu_zap_all}. */
  @Override
  public void flushShadowAll() {
    kvm.mmuLock().lock();
    try {
      ops.zapAll();
      kvm.flushRemoteTlbs();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_mmu_enable_log_dirty_pt_masked} without PML:
   * {@code kvm_mmu_write_protect_pt_masked} clears Writable (keeping MMU-writable, so the fast
   * path can restore it and log the gfn). The caller flushes after dropping mmu_lock.
   */
  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    kvm.mmuLock().assertHeldExclusive("kvm_arch_mmu_enable_log_dirty_pt_masked");
    ops.writeProtectMasked(slot, gfnOffset, mask);
  }
}
