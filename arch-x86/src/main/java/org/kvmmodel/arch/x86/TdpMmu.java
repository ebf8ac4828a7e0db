package org.kvmmodel.arch.x86;

import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.WalkControl;

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
  private final RadixPageTable root;
  private final PageTableCursor cursor;
  private final long maxGfn;

  TdpMmu(Kvm kvm, EptPageTableFormat format) {
    this.kvm = kvm;
    this.format = format;
    this.root = RadixPageTable.create(format, kvm.pageTables());
    this.cursor = root.newCursor(new KvmWalkControl(kvm));
    this.maxGfn = (1L << (Math.min(format.geometry().addressBits(), 52) - 12)) - 1;
  }

  /** The EPT root this MMU maintains. */
  RadixPageTable root() {
    return root;
  }

  EptPageTableFormat format() {
    return format;
  }

  /** {@code kvm_unmap_gfn_range} → {@code kvm_tdp_mmu_unmap_gfn_range}: zap leaves. */
  @Override
  public boolean unmapGfnRange(GfnRange range) {
    kvm.mmuLock().assertHeldExclusive("kvm_unmap_gfn_range");
    return cursor.zapRange(range.start(), range.end()) > 0;
  }

  /** {@code kvm_age_gfn} → {@code kvm_tdp_mmu_age_gfn_range}. */
  @Override
  public boolean ageGfn(GfnRange range) {
    return cursor.ageRange(range.start(), range.end()) > 0;
  }

  /** {@code kvm_test_age_gfn} → {@code kvm_tdp_mmu_test_age_gfn}. */
  @Override
  public boolean testAgeGfn(GfnRange range) {
    return cursor.testYoungRange(range.start(), range.end());
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
      cursor.writeProtectRange(updated.baseGfn(), updated.endGfn());
      cursor.clearFlushPending();
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
      cursor.zapRange(slot.baseGfn(), slot.endGfn());
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
      cursor.zapAll();
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
    long base = slot.baseGfn() + gfnOffset;
    while (mask != 0) {
      int bit = Long.numberOfTrailingZeros(mask);
      cursor.writeProtectRange(base + bit, base + bit + 1);
      mask &= mask - 1;
    }
    cursor.clearFlushPending();
  }

  /** The engine's view of KVM's TLB flushes; these hooks never yield. */
  private static final class KvmWalkControl implements WalkControl {
    private final Kvm kvm;

    KvmWalkControl(Kvm kvm) {
      this.kvm = kvm;
    }

    @Override
    public boolean shouldYield() {
      return false;
    }

    @Override
    public void yieldLock() {
      throw new IllegalStateException("TDP MMU notifier hooks do not yield mmu_lock");
    }

    @Override
    public void flushTlbs() {
      kvm.flushRemoteTlbs();
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      kvm.flushRemoteTlbsRange(gfn, pages);
    }
  }
}
