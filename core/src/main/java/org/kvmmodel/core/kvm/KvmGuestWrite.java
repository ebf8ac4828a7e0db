package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * KVM's own stores into guest memory ({@code kvm_write_guest}, {@code kvm_vcpu_write_guest},
 * {@code kvm_write_guest_page} and {@code __kvm_write_guest_page} in {@code virt/kvm/kvm_main.c}):
 * look the gfn's memslot up, turn it into a writable hva, copy to the VMM's memory through its
 * user-write path (which faults the page in as {@code copy_to_user} does), then log the gfn with
 * {@code mark_page_dirty_in_slot}. The caller holds {@code kvm->srcu}. Each store lands in a
 * frame the guest can see, so it counts in {@link GuestWrites} like a vCPU store.
 */
public final class KvmGuestWrite {

  /** {@code mark_page_dirty_in_slot}, as the write path calls it. */
  @FunctionalInterface
  public interface DirtyMark {
    void markPageDirtyInSlot(MemorySlot slot, long gfn);
  }

  private final KvmMemslots memslots;
  private final MmStruct vmm;
  private final GuestWrites guestWrites;
  private final Scheduler scheduler;
  private final DirtyMark dirtyMark;
  private final EventLog log;
  private final int pageShift;

  /** The write path of {@code kvm}, logging each page through {@code dirtyMark}. */
  public KvmGuestWrite(KvmInstance kvm, Scheduler scheduler, DirtyMark dirtyMark) {
    this.memslots = kvm.memslots();
    this.vmm = kvm.vmm();
    this.guestWrites = kvm.guestWrites();
    this.scheduler = scheduler;
    this.dirtyMark = dirtyMark;
    this.log = kvm.log();
    this.pageShift = kvm.pageShift();
  }

  /**
   * {@code kvm_write_guest} ({@code asId} 0) or {@code kvm_vcpu_write_guest} (the vCPU's address
   * space): {@code len} bytes from {@code gpa}, page by page; 0 or the first page's -EFAULT.
   */
  public int writeGuest(int asId, long gpa, long len) {
    long pageSize = 1L << pageShift;
    long gfn = gpa >>> pageShift;
    int offset = (int) (gpa & (pageSize - 1));
    long left = len;
    while (left > 0) {
      int seg = (int) Math.min(left, pageSize - offset);
      int r = writeGuestPage(asId, gfn, offset, seg);
      if (r < 0) {
        return r;
      }
      offset = 0;
      left -= seg;
      gfn++;
    }
    return 0;
  }

  /** {@code kvm_write_guest_page}: the memslot of {@code gfn}, then the page write. */
  public int writeGuestPage(int asId, long gfn, int offset, int len) {
    int r = writeGuestPage(memslots.gfnToMemslot(asId, gfn), gfn, offset, len);
    log.emit(Tracepoint.KVM_WRITE_GUEST_DONE, gfn, r, 0);
    return r;
  }

  /**
   * {@code __kvm_write_guest_page}: -EFAULT when the write would leave the page, when there is
   * no usable slot or the slot is read-only ({@code gfn_to_hva_memslot} answers an error hva),
   * or when the copy faults; otherwise the gfn is logged dirty.
   */
  private int writeGuestPage(MemorySlot slot, long gfn, int offset, int len) {
    if (offset < 0 || len < 0 || offset + len > 1L << pageShift) {
      return Errno.EFAULT.negative();
    }
    if (slot == null || slot.isInvalid() || !slot.containsGfn(gfn) || slot.isReadonly()) {
      return Errno.EFAULT.negative();
    }
    long hva = slot.gfnToHva(gfn) + offset;
    if (copyToUser(gfn, hva) != 0) {
      return Errno.EFAULT.negative();
    }
    dirtyMark.markPageDirtyInSlot(slot, gfn);
    return 0;
  }

  /**
   * {@code __copy_to_user}: a fault on a page under migration sleeps in
   * {@code migration_entry_wait} and retries; any other failure leaves bytes uncopied.
   */
  private int copyToUser(long gfn, long hva) {
    while (true) {
      int r =
          vmm.userWrite(
              hva,
              pfn -> {
                guestWrites.record(pfn);
                log.emit(Tracepoint.KVM_WRITE_GUEST, gfn, pfn, hva);
              });
      if (r != Errno.EAGAIN.negative()) {
        return r;
      }
      scheduler.spinPoint("migration_entry_wait");
    }
  }
}
