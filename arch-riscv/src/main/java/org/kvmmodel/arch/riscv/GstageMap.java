package org.kvmmodel.arch.riscv;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.HostVma;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.PageTableCursor;

/**
 * The G-stage fault path of KVM 6.13: {@code gstage_page_fault} ({@code vcpu_exit.c}) and
 * {@code kvm_riscv_gstage_map} with {@code gstage_map_page} / {@code gstage_set_pte}
 * ({@code mmu.c}). There is no fast path: every fault tops up the page-table cache, looks up
 * the VMA under the mmap lock to choose the mapping size, snapshots
 * {@code mmu_invalidate_seq}, faults the pfn in, and under the mmu_lock spinlock checks the
 * whole-VM {@code mmu_invalidate_retry} before mapping and releases the page with
 * {@code kvm_release_faultin_page} before unlocking.
 *
 * <p>6.13 releases the page with {@code unused = ret && ret != -EEXIST}, and {@code ret} is
 * still 0 when the retry check fires, so a retried fault releases its page as used (accessed,
 * and dirty if writable) although nothing was mapped: the DIRTY-PROTECTED divergence that
 * {@link RiscvPlugin#knownDivergences} declares. {@link #releaseUnused} and {@link #leaf} are
 * the two decisions kept apart so tests can build variants of this path.
 *
 * <p>Each vCPU faults on its own thread with its own cursor and faultin out-parameters.
 */
class GstageMap {

  /** The kernel function this class mirrors, where a fault faults its page in and releases it. */
  static final String FUNCTION = "kvm_riscv_gstage_map";

  private static final long PMD_SIZE = 1L << 21;
  private static final long PUD_SIZE = 1L << 30;

  private final Kvm kvm;
  private final GstageMode mode;
  private final ThreadLocal<VcpuFault> vcpus;

  GstageMap(Kvm kvm, GstageMode mode, RadixMmuOps ops) {
    this.kvm = kvm;
    this.mode = mode;
    this.vcpus = ThreadLocal.withInitial(() -> new VcpuFault(ops.newCursor()));
  }

  /**
   * {@code gstage_page_fault}: the gfn's slot and hva ({@code gfn_to_hva_memslot_prot}); no
   * usable slot, or a store to a read-only slot, is MMIO for userspace to emulate
   * ({@code kvm_riscv_vcpu_mmio_load/store}, a {@link KvmExit#MMIO} exit) and a fetch there is
   * {@code -EOPNOTSUPP}; anything else is mapped. Returns 0 to re-enter the guest, the exit
   * reason, or a negative errno.
   */
  int pageFault(Stage2Walk walk) {
    long gfn = walk.gfn(GstageMode.PAGE_SHIFT);
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    boolean badHva = slot == null || slot.isInvalid();
    boolean store = walk.faultKind() == GstageWalker.EXC_STORE_GUEST_PAGE_FAULT;
    if (badHva || (store && slot.isReadonly())) {
      switch (walk.faultKind()) {
        case GstageWalker.EXC_LOAD_GUEST_PAGE_FAULT:
        case GstageWalker.EXC_STORE_GUEST_PAGE_FAULT:
          return KvmExit.MMIO;
        default:
          return Errno.EOPNOTSUPP.negative();
      }
    }
    int ret = map(vcpus.get(), slot, walk.gpa(), slot.gfnToHva(gfn), store);
    return ret < 0 ? ret : 0;
  }

  /** {@code kvm_riscv_gstage_map}. */
  private int map(VcpuFault fault, MemorySlot memslot, long gpa, long hva, boolean isWrite) {
    long gfn = gpa >>> GstageMode.PAGE_SHIFT;
    boolean logging = memslot.dirtyLogEnabled() && !memslot.isReadonly();
    int ret = kvm.mmuTopupMemoryCache(mode.levels());
    if (ret != 0) {
      return ret;
    }
    kvm.mmapReadLock();
    HostVma vma = kvm.vmaLookup(hva);
    if (vma == null) {
      kvm.mmapReadUnlock();
      return Errno.EFAULT.negative();
    }
    int vmaPageshift = vma.isHugetlb() ? vma.pageShift() : GstageMode.PAGE_SHIFT;
    long vmaPagesize = 1L << vmaPageshift;
    if (logging || vma.has(HostVma.VM_PFNMAP)) {
      vmaPagesize = 1L << GstageMode.PAGE_SHIFT;
    }
    if (vmaPagesize == PMD_SIZE || vmaPagesize == PUD_SIZE) {
      gfn = (gpa & -vma.pageSize()) >>> GstageMode.PAGE_SHIFT;
    }
    long mmuSeq = kvm.mmuInvalidateSeq();
    kvm.mmapReadUnlock();
    if (vmaPagesize != PUD_SIZE && vmaPagesize != PMD_SIZE
        && vmaPagesize != 1L << GstageMode.PAGE_SHIFT) {
      return Errno.EFAULT.negative();
    }
    FaultinResult faultin = fault.faultin;
    long hfn = kvm.faultinPfn(kvm.gfnToMemslot(0, gfn), gfn, isWrite ? Foll.WRITE : 0, faultin);
    if (hfn == KvmPfn.ERR_HWPOISON) {
      return Errno.EHWPOISON.negative();
    }
    if (KvmPfn.isErrorOrNoslot(hfn)) {
      return Errno.EFAULT.negative();
    }
    boolean writable = faultin.writable() && !(logging && !isWrite);
    kvm.mmuLock().lock();
    try {
      boolean retry = kvm.mmuInvalidateRetry(mmuSeq);
      if (!retry) {
        if (writable) {
          kvm.markPageDirtyInSlot(kvm.gfnToMemslot(0, gfn), gfn);
        }
        ret = mapPage(fault.cursor, gpa, hfn, vmaPagesize, writable);
      }
      kvm.releaseFaultinPage(faultin.refcountedPage(), releaseUnused(ret, retry), writable);
    } finally {
      kvm.mmuLock().unlock();
    }
    return ret;
  }

  /**
   * The {@code unused} argument of 6.13's {@code kvm_release_faultin_page}: only a failed
   * mapping other than {@code -EEXIST}. 6.13 does not look at whether the retry check fired
   * ({@code retried}): a fault it skipped has {@code ret} 0 and releases its page as used.
   */
  boolean releaseUnused(int ret, boolean retried) {
    return ret != 0 && ret != Errno.EEXIST.negative();
  }

  /**
   * The leaf for frame {@code hfn}: {@code gstage_map_page} with {@code page_rdonly =
   * !writable} and {@code page_exec = true}.
   */
  long leaf(long hfn, boolean writable) {
    return GstagePte.mapPage(hfn, !writable, true);
  }

  /**
   * {@code gstage_map_page} → {@code gstage_set_pte}: a leaf already on the way down to the
   * level of {@code pageSize} is {@code -EEXIST} (6.13 neither splits nor replaces it); else
   * link missing tables from the cache and store the leaf, flushing it, even when the same
   * value was already there. An empty cache is {@code -ENOMEM}.
   */
  private int mapPage(PageTableCursor cursor, long gpa, long hfn, long pageSize, boolean writable) {
    int level = Long.numberOfTrailingZeros(pageSize >>> GstageMode.PAGE_SHIFT) / GstageMode.INDEX_BITS;
    long gfn = (gpa & -pageSize) >>> GstageMode.PAGE_SHIFT;
    if (cursor.walk(gfn) && cursor.level() > level) {
      return Errno.EEXIST.negative();
    }
    switch (cursor.map(gfn, level, leaf(hfn, writable))) {
      case CHANGED:
        return 0;
      case UNCHANGED:
        kvm.flushRemoteTlbsRange(gfn, pageSize >>> GstageMode.PAGE_SHIFT);
        return 0;
      case NO_MEMORY:
        return Errno.ENOMEM.negative();
      default:
        throw new IllegalStateException("a G-stage store under the mmu_lock spinlock cannot race");
    }
  }

  /** One vCPU's cursor and {@code __kvm_faultin_pfn} out-parameters, reused for its faults. */
  private static final class VcpuFault {
    final PageTableCursor cursor;
    final FaultinResult faultin = new FaultinResult();

    VcpuFault(PageTableCursor cursor) {
      this.cursor = cursor;
    }
  }
}
