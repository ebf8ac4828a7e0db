package org.kvmmodel.arch.riscv;

import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.HostVma;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.PageTableCursor;

/**
 * RISC-V KVM 6.13's G-stage hooks for common KVM ({@code arch/riscv/kvm/mmu.c}) over one VM's
 * table, with mmu_lock a spinlock: notifier unmapping and aging, memslot preparation, commit
 * and flushes, and the dirty-log re-protection; the hart's walker ({@link GstageWalker}) and
 * the fault path ({@link GstageMap}).
 *
 * <p>Range operations flush each leaf they change as they go ({@code gstage_op_pte}), so
 * {@code kvm_unmap_gfn_range} asks common code for no flush. 6.13's range walkers
 * ({@code gstage_unmap_range}, {@code gstage_wp_range}) step through the range by address and
 * act on a leaf only when the range starts on its boundary and spans it whole; a huge leaf the
 * range only partly covers is skipped, which the engine's covered-leaf operations model. 6.13
 * does not keep huge leaves inside one slot (it maps a hugetlb VMA's page size with no check
 * of the slot's bounds or of the hva's alignment), and a dirty-log mask covers at most 64
 * pages, so with an initially-all-set bitmap no 2 MiB leaf is ever write-protected and writes
 * through it are not logged (fixed by "RISC-V: KVM: Fix lost write protection on huge pages
 * during dirty logging"). Not modelled: the eager
 * {@code kvm_riscv_gstage_ioremap} of {@code VM_PFNMAP} VMAs in
 * {@code kvm_arch_prepare_memory_region} (faults on such memory map it on demand instead).
 */
final class GstageMmu implements ArchMmu {

  private final Kvm kvm;
  private final GstageMode mode;
  private final boolean svadu;
  private final RadixMmuOps ops;
  private final GstageMap map;

  GstageMmu(Kvm kvm, GstageMode mode, boolean svadu, RadixMmuOps ops, GstageMap map) {
    this.kvm = kvm;
    this.mode = mode;
    this.svadu = svadu;
    this.ops = ops;
    this.map = map;
  }

  /** {@code kvm_unmap_gfn_range} → {@code gstage_unmap_range}: clear and flush each leaf. */
  @Override
  public boolean unmapGfnRange(GfnRange range) {
    kvm.mmuLock().assertHeldExclusive("kvm_unmap_gfn_range");
    unmapRange(range.start(), range.end(), range.mayBlock());
    return false;
  }

  /**
   * {@code gstage_unmap_range}, mmu_lock held: clear every leaf the range covers whole, each
   * flushed as it is cleared ({@code gstage_op_pte}), so nothing is left for the caller to
   * flush; when {@code mayBlock}, after each step short of the end the lock is yielded if due
   * ({@code cond_resched_lock}), with nothing to flush first.
   */
  private void unmapRange(long startGfn, long endGfn, boolean mayBlock) {
    PageTableCursor cursor = mayBlock ? ops.newReschedulingCursor(false) : ops.cursor();
    cursor.zapCoveredLeaves(startGfn, endGfn);
    cursor.clearFlushPending();
  }

  /**
   * {@code kvm_age_gfn}: the leaf that maps the range's first gfn
   * ({@code gstage_get_leaf_entry}), tested and cleared young atomically
   * ({@code ptep_test_and_clear_young}).
   */
  @Override
  public boolean ageGfn(GfnRange range) {
    PageTableCursor cursor = ops.cursor();
    for (; ; ) {
      if (!cursor.walk(range.start()) || !GstagePte.isYoung(cursor.entry())) {
        return false;
      }
      long pte = cursor.entry();
      if (cursor.tryUpdateWalkedLeaf(pte, pte & ~GstagePte.A)) {
        return true;
      }
    }
  }

  /** {@code kvm_test_age_gfn}: {@code pte_young} of the leaf mapping the range's first gfn. */
  @Override
  public boolean testAgeGfn(GfnRange range) {
    PageTableCursor cursor = ops.cursor();
    return cursor.walk(range.start()) && GstagePte.isYoung(cursor.entry());
  }

  /**
   * {@code kvm_arch_prepare_memory_region} for CREATE, MOVE and FLAGS_ONLY: a slot reaching the
   * end of the mode's guest-physical space is {@code -EFAULT}; then, under the mmap lock, every
   * VMA behind the slot: a read-only VMA under a writable slot is {@code -EPERM}, dirty logging
   * over a {@code VM_PFNMAP} VMA {@code -EINVAL}.
   */
  @Override
  public int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.DELETE) {
      return 0;
    }
    if (updated.baseGfn() + updated.npages() >= 1L << (mode.gpaBits() - GstageMode.PAGE_SHIFT)) {
      return Errno.EFAULT.negative();
    }
    boolean writable = !updated.isReadonly();
    long hva = updated.userspaceAddr();
    long regEnd = updated.userspaceEnd();
    int ret = 0;
    kvm.mmapReadLock();
    try {
      do {
        HostVma vma = kvm.findVmaIntersection(hva, regEnd);
        if (vma == null) {
          break;
        }
        if (writable && !vma.has(HostVma.VM_WRITE)) {
          ret = Errno.EPERM.negative();
          break;
        }
        if (vma.has(HostVma.VM_PFNMAP) && updated.dirtyLogEnabled()) {
          ret = Errno.EINVAL.negative();
          break;
        }
        hva = Math.min(regEnd, vma.end());
      } while (hva < regEnd);
    } finally {
      kvm.mmapReadUnlock();
    }
    return ret;
  }

  /**
   * {@code kvm_arch_commit_memory_region}: a slot that is not deleted and logs dirty pages is
   * write-protected ({@code gstage_wp_memory_region}: the whole slot under mmu_lock, then a
   * remote flush), unless bitmaps start all set.
   */
  @Override
  public void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.DELETE || !updated.dirtyLogEnabled()) {
      return;
    }
    if (kvm.dirtyLogManualProtectAndInitSet()) {
      return;
    }
    kvm.mmuLock().lock();
    try {
      wpRange(updated.baseGfn(), updated.endGfn());
    } finally {
      kvm.mmuLock().unlock();
    }
    kvm.flushRemoteTlbs();
  }

  /**
   * {@code kvm_arch_flush_shadow_memslot}: {@code gstage_unmap_range} over the slot under
   * mmu_lock, so a huge leaf the slot only partly covers (6.13 maps hugetlbfs leaves across a
   * slot's bounds) stays mapped after the slot is deleted or moved.
   */
  @Override
  public void flushShadowMemslot(MemorySlot slot) {
    kvm.mmuLock().lock();
    try {
      unmapRange(slot.baseGfn(), slot.endGfn(), false);
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_flush_shadow_all} → {@code kvm_riscv_gstage_free_pgd}: unmap the whole
   * guest-physical space under mmu_lock. The model keeps the root for the VM's lifetime.
   */
  @Override
  public void flushShadowAll() {
    kvm.mmuLock().lock();
    try {
      ops.zapAll();
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_mmu_enable_log_dirty_pt_masked}: {@code gstage_wp_range} from the mask's
   * first to its last set gfn (every gfn in between, set or not), flushing what it protects.
   */
  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    kvm.mmuLock().assertHeldExclusive("kvm_arch_mmu_enable_log_dirty_pt_masked");
    if (mask == 0) {
      return;
    }
    wpRange(slot.maskedSpanStart(gfnOffset, mask), slot.maskedSpanEnd(gfnOffset, mask));
  }

  /**
   * {@code gstage_wp_range} under mmu_lock: clear W in every leaf the range covers whole; the
   * kernel flushes each one as it goes, here one flush covers them before the lock is dropped.
   */
  private void wpRange(long start, long end) {
    PageTableCursor cursor = ops.cursor();
    cursor.writeProtectCoveredLeaves(start, end);
    if (cursor.flushPending()) {
      kvm.flushRemoteTlbs();
      cursor.clearFlushPending();
    }
  }

  /** A hart's G-stage walker for one vCPU; with Svadu it sets A and D itself. */
  @Override
  public Stage2Walker walker() {
    return new GstageWalker(ops.table(), svadu);
  }

  /**
   * {@code kvm_riscv_gstage_map}, which {@code gstage_page_fault} calls to fault the pfn in,
   * map it and release it.
   */
  @Override
  public String guestFaultFunction() {
    return GstageMap.FUNCTION;
  }

  /** {@code kvm_riscv_vcpu_exit} for a guest-page fault → {@code gstage_page_fault}. */
  @Override
  public int handleGuestFault(int vcpuId, Stage2Walk fault) {
    if (fault.translated()) {
      throw new IllegalArgumentException("the walk translated; there is no fault to handle");
    }
    return map.pageFault(fault);
  }
}
