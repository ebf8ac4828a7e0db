package org.kvmmodel.core.kvm;

import java.util.concurrent.atomic.AtomicLongArray;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * The dirty bitmap side of {@code virt/kvm/kvm_main.c}: {@code mark_page_dirty_in_slot},
 * KVM_GET_DIRTY_LOG ({@code kvm_get_dirty_log_protect}) and KVM_CLEAR_DIRTY_LOG
 * ({@code kvm_clear_dirty_log_protect}). Harvesting re-protects the harvested gfns through the
 * arch's {@code kvm_arch_mmu_enable_log_dirty_pt_masked} under mmu_lock, then flushes. This is
 * dirty logging only; it never touches a folio. Every access to a bitmap word that another
 * actor can change meanwhile is a scheduler point: setting a bit, copying a word, and the gap
 * between exchanging or clearing a word and re-protecting its gfns, so deterministic mode can
 * put a write, a fault or another harvest in each of those windows.
 */
public final class DirtyLog {

  private final KvmMemslots memslots;
  private final MmuLock mmuLock;
  private final ArchMmu arch;
  private volatile DirtyLogMode mode;
  private final Runnable flushRemoteTlbs;
  private final int userMemSlots;
  private final EventLog log;
  private final Scheduler scheduler;

  public DirtyLog(
      KvmMemslots memslots,
      MmuLock mmuLock,
      ArchMmu arch,
      DirtyLogMode mode,
      Runnable flushRemoteTlbs,
      int userMemSlots,
      EventLog log,
      Scheduler scheduler) {
    this.log = log;
    this.scheduler = scheduler;
    this.memslots = memslots;
    this.mmuLock = mmuLock;
    this.arch = arch;
    this.mode = mode;
    this.flushRemoteTlbs = flushRemoteTlbs;
    this.userMemSlots = userMemSlots;
  }

  public DirtyLogMode mode() {
    return mode;
  }

  /**
   * {@code KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)} as
   * {@code kvm_vm_ioctl_enable_cap_generic} handles it: any time, no lock, the new mode from
   * {@code args0} ({@link DirtyLogMode#fromCapability}). Returns 0 or -EINVAL.
   */
  public int enableManualProtect(long args0) {
    DirtyLogMode next = DirtyLogMode.fromCapability(args0);
    if (next == null) {
      return Errno.EINVAL.negative();
    }
    mode = next;
    return 0;
  }

  /**
   * {@code mark_page_dirty_in_slot}: set the gfn's bit if the slot logs dirty pages. A slot that
   * is not (or no longer) active has no bitmap to mark.
   */
  public void markPageDirtyInSlot(MemorySlot slot, long gfn) {
    if (slot == null || !slot.dirtyLogEnabled()) {
      return;
    }
    KvmMemslot s = memslots.lookup(slot);
    if (s == null || !s.hasDirtyBitmap()) {
      return;
    }
    long rel = gfn - slot.baseGfn();
    if (rel < 0 || rel >= slot.npages()) {
      throw new IllegalArgumentException("gfn 0x" + Long.toHexString(gfn) + " outside " + slot);
    }
    scheduler.point("set_bit_le dirty_bitmap");
    s.dirtyBitmap().getAndAccumulate((int) (rel >>> 6), 1L << (rel & 63), (a, b) -> a | b);
  }

  /**
   * KVM_GET_DIRTY_LOG into {@code out} (one long per 64 pages). Without manual protect each
   * non-zero word is exchanged with zero and its gfns re-protected; with it the bitmap is
   * copied. Returns 0 or a negative errno.
   */
  public int getDirtyLog(int slotArg, long[] out) {
    int asId = slotArg >>> 16;
    int id = slotArg & 0xffff;
    if (asId >= memslots.addressSpaces() || id >= userMemSlots) {
      return Errno.EINVAL.negative();
    }
    KvmMemslot s = memslots.active(asId).byId(id);
    if (s == null || !s.hasDirtyBitmap()) {
      return Errno.ENOENT.negative();
    }
    AtomicLongArray bitmap = s.dirtyBitmap();
    int n = KvmMemslot.bitmapLongs(s.slot().npages());
    if (out.length < n) {
      return Errno.EFAULT.negative();
    }
    boolean flush = false;
    if (mode.manualProtect()) {
      for (int i = 0; i < n; i++) {
        scheduler.point("copy dirty_bitmap word");
        out[i] = bitmap.get(i);
      }
    } else {
      mmuLock.lock();
      try {
        for (int i = 0; i < n; i++) {
          out[i] = 0;
          if (bitmap.get(i) == 0) {
            continue;
          }
          flush = true;
          long mask = bitmap.getAndSet(i, 0);
          out[i] = mask;
          scheduler.point("xchg dirty_bitmap word");
          enableLogDirtyPtMasked(s.slot(), (long) i * 64, mask);
        }
      } finally {
        mmuLock.unlock();
      }
    }
    if (flush) {
      flushRemoteTlbs.run();
    }
    return 0;
  }

  /**
   * KVM_CLEAR_DIRTY_LOG: clear the bits of {@code bitmap} (relative to {@code firstPage}) that
   * are really set and re-protect exactly those gfns. Returns 0 or a negative errno.
   */
  public int clearDirtyLog(int slotArg, long firstPage, long numPages, long[] bitmap) {
    int asId = slotArg >>> 16;
    int id = slotArg & 0xffff;
    if (asId >= memslots.addressSpaces() || id >= userMemSlots) {
      return Errno.EINVAL.negative();
    }
    if ((firstPage & 63) != 0) {
      return Errno.EINVAL.negative();
    }
    KvmMemslot s = memslots.active(asId).byId(id);
    if (s == null || !s.hasDirtyBitmap()) {
      return Errno.ENOENT.negative();
    }
    long npages = s.slot().npages();
    if (firstPage < 0
        || numPages < 0
        || firstPage > npages
        || numPages > npages - firstPage
        || (numPages < npages - firstPage && (numPages & 63) != 0)) {
      return Errno.EINVAL.negative();
    }
    int words = (int) ((numPages + 63) >>> 6);
    if (bitmap.length < words) {
      return Errno.EFAULT.negative();
    }
    AtomicLongArray dirty = s.dirtyBitmap();
    boolean flush = false;
    mmuLock.lock();
    try {
      int base = (int) (firstPage >>> 6);
      for (int w = 0; w < words; w++) {
        long mask = bitmap[w];
        if (mask == 0) {
          continue;
        }
        long before = dirty.getAndAccumulate(base + w, mask, (a, b) -> a & ~b);
        mask &= before;
        if (mask != 0) {
          flush = true;
          scheduler.point("atomic_long_fetch_andnot dirty_bitmap word");
          enableLogDirtyPtMasked(s.slot(), firstPage + (long) w * 64, mask);
        }
      }
    } finally {
      mmuLock.unlock();
    }
    if (flush) {
      flushRemoteTlbs.run();
    }
    return 0;
  }

  /** The arch re-protects the harvested gfns under mmu_lock; the caller flushes after unlock. */
  private void enableLogDirtyPtMasked(MemorySlot slot, long gfnOffset, long mask) {
    log.emit(Tracepoint.ENABLE_LOG_DIRTY_PT_MASKED, slot.id(), gfnOffset, mask);
    arch.enableLogDirtyPtMasked(slot, gfnOffset, mask);
    log.emit(Tracepoint.ENABLE_LOG_DIRTY_PT_MASKED_DONE, slot.id(), gfnOffset, mask);
  }
}
