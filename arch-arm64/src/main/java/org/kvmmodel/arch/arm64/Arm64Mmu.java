package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.HostVma;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.UpdateStatus;

/**
 * arm64's hooks for common KVM over one VM's canonical stage-2 table ({@code arch/arm64/kvm/mmu.c},
 * 6.13; nested stage-2 MMUs are not modelled): unmapping and aging for mmu_notifier callbacks,
 * memslot preparation (IPA size, no dirty logging on {@code VM_PFNMAP}, MTE-capable VMAs) and
 * commit (write-protecting a slot when dirty logging is enabled, eager splitting when
 * userspace set a chunk size), the masked re-protection of dirty-log harvests, the vCPUs'
 * hardware walker, the abort handler ({@link GuestAbort}) and the VM ioctl that copies MTE
 * tags ({@link MteCopyTags}).
 */
final class Arm64Mmu implements ArchMmu {

  private final Kvm kvm;
  private final Stage2Config config;
  private final Stage2PageTableFormat format;
  private final RadixMmuOps ops;
  private final GuestAbort abort;
  private final MteCopyTags mteCopyTags;
  /** {@code split_page_chunk_size}: 0, the default, splits blocks on write faults. */
  private volatile long splitPageChunkSize;

  /** {@code kvm_init_stage2_mmu} for {@code config}. */
  Arm64Mmu(Kvm kvm, Stage2Config config) {
    this.kvm = kvm;
    this.config = config;
    this.format = new Stage2PageTableFormat(config);
    this.ops = new RadixMmuOps(kvm, RadixPageTable.create(format, kvm.pageTables()));
    this.abort = new GuestAbort(kvm, config, ops);
    this.mteCopyTags = new MteCopyTags(kvm, config.mte());
  }

  /** {@code user_mem_abort}, where the abort handler faults the pfn in and releases it. */
  @Override
  public String guestFaultFunction() {
    return "user_mem_abort";
  }

  /** {@link MteCopyTags#FUNCTION} for {@code KVM_ARM_MTE_COPY_TAGS}. */
  @Override
  public String vmIoctlFunction(long ioctl) {
    return ioctl == MteCopyTags.KVM_ARM_MTE_COPY_TAGS
        ? MteCopyTags.FUNCTION
        : ArchMmu.super.vmIoctlFunction(ioctl);
  }

  /**
   * arm64's {@code kvm_arch_vm_ioctl} for the requests modelled: {@code KVM_ARM_MTE_COPY_TAGS}
   * ({@link MteCopyTags}); any other request is -EINVAL, arm64's answer to one it does not know.
   */
  @Override
  public int vmIoctl(long ioctl, long[] arg) {
    if (ioctl == MteCopyTags.KVM_ARM_MTE_COPY_TAGS) {
      return mteCopyTags.copy(arg);
    }
    return Errno.EINVAL.negative();
  }

  /**
   * arm64's {@code kvm_vm_ioctl_enable_cap}, slots_lock held: only
   * {@code KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE}, and only while the VM has no memslot, set to 0
   * or a supported block size ({@code kvm_is_block_size_supported}); anything else -EINVAL.
   */
  @Override
  public int enableCap(long cap, long arg) {
    if (cap != KvmCap.ARM_EAGER_SPLIT_CHUNK_SIZE || !kvm.areAllMemslotsEmpty()
        || (arg != 0 && !isBlockSizeSupported(arg))) {
      return Errno.EINVAL.negative();
    }
    splitPageChunkSize = arg;
    return 0;
  }

  /**
   * {@code kvm_is_block_size_supported}: a power of two among {@code kvm_supported_block_sizes},
   * the sizes of the levels from {@code KVM_PGTABLE_MIN_BLOCK_LEVEL} above the last.
   */
  private boolean isBlockSizeSupported(long size) {
    if ((size & (size - 1)) != 0) {
      return false;
    }
    for (int level = config.minBlockLevel(); level < Stage2Pte.LAST_LEVEL; level++) {
      if (size == 1L << config.levelShift(level)) {
        return true;
      }
    }
    return false;
  }

  /** The stage-2 table. */
  RadixPageTable pgt() {
    return ops.table();
  }

  /**
   * {@code kvm_unmap_gfn_range}: {@code kvm_pgtable_stage2_unmap} over the range, which
   * invalidates the TLB itself (per leaf, or once for the range when deferred); returns false,
   * so common code does not flush again.
   */
  @Override
  public boolean unmapGfnRange(GfnRange range) {
    kvm.mmuLock().assertHeldExclusive("kvm_unmap_gfn_range");
    unmapStage2Range(range.start(), range.end(), range.mayBlock());
    return false;
  }

  /** One chunk of a {@link #applyStage2Range} walk. */
  @FunctionalInterface
  private interface Stage2RangeWalk {
    void apply(long startGfn, long endGfn);
  }

  /**
   * {@code stage2_apply_range}: {@code walk} chunk by chunk, each chunk ending at the next
   * boundary of a block at {@code KVM_PGTABLE_MIN_BLOCK_LEVEL} ({@code stage2_range_addr_end}:
   * 1 GiB with 4 KiB pages) and, when {@code resched}, mmu_lock yielded between chunks if due
   * ({@code cond_resched_rwlock_write}). Each chunk's walk has flushed what it must before it
   * returns, so nothing is pending across a yield.
   */
  private void applyStage2Range(long startGfn, long endGfn, boolean resched, Stage2RangeWalk walk) {
    long chunkPages = 1L << (config.levelShift(config.minBlockLevel()) - kvm.pageShift());
    long gfn = startGfn;
    do {
      long next = chunkEnd(gfn, endGfn, chunkPages);
      walk.apply(gfn, next);
      if (resched && next != endGfn) {
        kvm.mmuLock().condResched();
      }
      gfn = next;
    } while (gfn != endGfn);
  }

  /**
   * The end of the chunk that starts at {@code gfn}: the next multiple of {@code chunkPages},
   * or {@code endGfn} if that comes first ({@code stage2_range_addr_end}'s
   * {@code boundary - 1 < end - 1}, which also holds when the boundary wraps).
   */
  private static long chunkEnd(long gfn, long endGfn, long chunkPages) {
    long boundary = (gfn + chunkPages) & -chunkPages;
    return boundary - 1 < endGfn - 1 ? boundary : endGfn;
  }

  /**
   * {@code kvm_stage2_unmap_range} → {@code kvm_pgtable_stage2_unmap} per chunk of
   * {@link #applyStage2Range} (yielding between chunks when {@code mayBlock}), mmu_lock held
   * for write: clear every leaf and, after its entries, every table the walk left empty
   * (cleared with a range invalidation of its span), then the deferred range invalidation
   * ({@code kvm_tlb_flush_vmid_range}) when {@code stage2_unmap_defer_tlb_flush}, whether or not
   * the walk cleared anything, as {@code kvm_pgtable_stage2_unmap} does. 6.13 puts an
   * emptied table page at once: no software walker can hold it, since 6.13's shared walkers run
   * under the read lock. The model hands it to the VM's deferred free, which frees it after an
   * RCU grace period, later than the kernel but never earlier.
   */
  private void unmapStage2Range(long startGfn, long endGfn, boolean mayBlock) {
    applyStage2Range(startGfn, endGfn, mayBlock, (start, end) -> {
      PageTableCursor cursor = ops.cursor();
      cursor.zapRangeExclusiveFreeingEmptyTables(start, end);
      cursor.clearFlushPending();
      if (format.deferUnmapFlush()) {
        kvm.flushRemoteTlbsRange(start, end - start);
      }
    });
  }

  /**
   * {@code kvm_stage2_wp_range} → {@code stage2_apply_range_resched} with
   * {@code kvm_pgtable_stage2_wrprotect}, mmu_lock held for write; the caller flushes.
   */
  private void writeProtectStage2Range(long startGfn, long endGfn) {
    applyStage2Range(startGfn, endGfn, true, (start, end) -> {
      PageTableCursor cursor = ops.cursor();
      cursor.writeProtectRange(start, end);
      cursor.clearFlushPending();
    });
  }

  /** {@code kvm_age_gfn} → {@code kvm_pgtable_stage2_test_clear_young(mkold = true)}. */
  @Override
  public boolean ageGfn(GfnRange range) {
    return ops.age(range);
  }

  /** {@code kvm_test_age_gfn} → {@code kvm_pgtable_stage2_test_clear_young(mkold = false)}. */
  @Override
  public boolean testAgeGfn(GfnRange range) {
    return ops.testAge(range);
  }

  /**
   * {@code kvm_arch_prepare_memory_region}: for CREATE, MOVE and FLAGS_ONLY, a slot reaching
   * past the IPA size is -EFAULT; then, under the mmap lock, every VMA the slot's hva range
   * overlaps must allow MTE tags when the VM has MTE, and must not be {@code VM_PFNMAP} when
   * the slot logs dirty pages (-EINVAL).
   */
  @Override
  public int prepareMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.DELETE) {
      return 0;
    }
    if (updated.endGfn() > (1L << config.ipaBits()) >>> updated.pageShift()) {
      return Errno.EFAULT.negative();
    }
    long hva = updated.userspaceAddr();
    long regEnd = updated.userspaceEnd();
    int ret = 0;
    kvm.mmapReadLock();
    try {
      while (hva < regEnd) {
        HostVma vma = kvm.findVmaIntersection(hva, regEnd);
        if (vma == null) {
          break;
        }
        if (config.mte() && !vma.has(HostVma.VM_MTE_ALLOWED)) {
          ret = Errno.EINVAL.negative();
          break;
        }
        if (vma.has(HostVma.VM_PFNMAP) && updated.dirtyLogEnabled()) {
          ret = Errno.EINVAL.negative();
          break;
        }
        hva = Math.min(regEnd, vma.end());
      }
    } finally {
      kvm.mmapReadUnlock();
    }
    return ret;
  }

  /**
   * {@code kvm_arch_commit_memory_region}: a slot that logs dirty pages (and is not being
   * deleted) is write-protected under mmu_lock held for write and the TLBs flushed
   * ({@code kvm_mmu_wp_memory_region}), then split eagerly if a chunk size is set
   * ({@code kvm_mmu_split_memory_region}), unless the bitmap starts all set with manual
   * protection, when both happen per {@code KVM_CLEAR_DIRTY_LOG}.
   */
  @Override
  public void commitMemoryRegion(MemorySlot old, MemorySlot updated, MemoryChange change) {
    if (change == MemoryChange.DELETE || !updated.dirtyLogEnabled()
        || kvm.dirtyLogManualProtectAndInitSet()) {
      return;
    }
    kvm.mmuLock().lock();
    try {
      writeProtectStage2Range(updated.baseGfn(), updated.endGfn());
    } finally {
      kvm.mmuLock().unlock();
    }
    kvm.flushRemoteTlbsRange(updated.baseGfn(), updated.npages());
    kvm.mmuLock().lock();
    try {
      splitHugePages(updated.baseGfn(), updated.endGfn());
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_mmu_split_huge_pages}, mmu_lock held for write: nothing when the chunk size is
   * 0; else chunk by chunk, {@code kvm_pgtable_stage2_split} down to pages, stopping at the
   * first error (it is best effort: what stays a block is broken by write faults). Before each
   * chunk the split cache is topped up to one chunk's tables with mmu_lock dropped
   * ({@code need_split_memcache_topup_or_resched}: the model always takes that branch, as when
   * a reschedule is due); the calling actor's MMU cache stands in for
   * {@code split_page_cache}, which only this ioctl path under slots_lock uses.
   */
  private void splitHugePages(long startGfn, long endGfn) {
    long chunkSize = splitPageChunkSize;
    if (chunkSize == 0) {
      return;
    }
    int capacity = splitNrPageTables(chunkSize);
    long chunkPages = chunkSize >>> kvm.pageShift();
    long gfn = startGfn;
    do {
      kvm.mmuLock().unlock();
      int ret = kvm.mmuTopupMemoryCache(capacity);
      kvm.mmuLock().lock();
      if (ret != 0) {
        return;
      }
      long next = chunkEnd(gfn, endGfn, chunkPages);
      if (ops.cursor().splitRange(gfn, next, Stage2Pte.LAST_LEVEL) == UpdateStatus.NO_MEMORY) {
        return;
      }
      gfn = next;
    } while (gfn != endGfn);
  }

  /**
   * {@code kvm_mmu_split_nr_page_tables}: the tables splitting {@code bytes} of blocks may
   * take, one per 2nd-level block and, where the first level holds blocks, one per 1st-level.
   */
  private int splitNrPageTables(long bytes) {
    int n = 0;
    for (int level = config.minBlockLevel(); level < Stage2Pte.LAST_LEVEL; level++) {
      long size = 1L << config.levelShift(level);
      n += (int) ((bytes + size - 1) / size);
    }
    return n;
  }

  /**
   * {@code kvm_arch_flush_shadow_memslot}: under mmu_lock held for write, unmap the slot's IPA
   * range, yielding between chunks ({@code kvm_stage2_unmap_range} with {@code may_block}).
   */
  @Override
  public void flushShadowMemslot(MemorySlot slot) {
    kvm.mmuLock().lock();
    try {
      unmapStage2Range(slot.baseGfn(), slot.endGfn(), true);
    } finally {
      kvm.mmuLock().unlock();
    }
  }

  /**
   * {@code kvm_arch_flush_shadow_all} → {@code kvm_uninit_stage2_mmu}: everything under the
   * root is torn down with mmu_lock held for write. The model keeps the empty root, so a
   * late notifier finds nothing to unmap rather than no table.
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
   * {@code kvm_arch_mmu_enable_log_dirty_pt_masked}, mmu_lock held for write: write-protect the
   * IPA span from the lowest to the highest gfn of the mask ({@code stage2_wp_range}), then,
   * with an initially-all-set bitmap, split it eagerly (the caller flushes).
   */
  @Override
  public void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    kvm.mmuLock().assertHeldExclusive("kvm_arch_mmu_enable_log_dirty_pt_masked");
    long start = slot.maskedSpanStart(gfnOffset, mask);
    long end = slot.maskedSpanEnd(gfnOffset, mask);
    writeProtectStage2Range(start, end);
    if (kvm.dirtyLogManualProtectAndInitSet()) {
      splitHugePages(start, end);
    }
  }

  /** A new stage-2 walker for one vCPU; with VTCR_EL2.HA it sets AF itself. */
  @Override
  public Stage2Walker walker() {
    return new Stage2HardwareWalker(ops.table(), config);
  }

  /**
   * {@code kvm_handle_guest_abort} for vCPU {@code vcpuId}: 0 to re-enter the guest,
   * {@link org.kvmmodel.api.kvm.KvmExit#MMIO}, or -errno.
   *
   * @throws IllegalArgumentException when {@code walk} translated
   */
  @Override
  public int handleGuestFault(int vcpuId, Stage2Walk walk) {
    if (walk.translated()) {
      throw new IllegalArgumentException("the walk translated; there is no abort to handle");
    }
    return abort.kvmHandleGuestAbort(vcpuId, walk);
  }
}
