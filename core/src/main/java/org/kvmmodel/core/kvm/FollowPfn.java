package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.PfnmapEntry;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * {@code kvm_follow_pfn} and {@code hva_to_pfn} ({@code virt/kvm/kvm_main.c}): translate a gfn
 * of a memslot to a host pfn through the VMM's page tables. Fast GUP is tried only for a write
 * or when a writable mapping is wanted (a read-only fast GUP could race with COW breaking);
 * slow GUP may fault pages in, and for a read that wants a writable mapping tries a writable
 * fast GUP afterwards; {@code VM_IO | VM_PFNMAP} memory is resolved with
 * {@code follow_pfnmap_start} and never referenced. The caller owns the returned reference or
 * pin ({@link FaultinResult#refcountedPage()}).
 */
public final class FollowPfn {

  private final MmStruct mm;
  private final HostMemory memory;
  private final FaultInjector inject;
  private final Scheduler scheduler;
  private final boolean allowUnsafeMappings;
  private final EventLog log;

  public FollowPfn(
      MmStruct mm,
      FaultInjector inject,
      Scheduler scheduler,
      boolean allowUnsafeMappings,
      EventLog log) {
    this.log = log;
    this.mm = mm;
    this.memory = mm.memory();
    this.inject = inject;
    this.scheduler = scheduler;
    this.allowUnsafeMappings = allowUnsafeMappings;
  }

  /** The VMM process whose page tables back the memslots. */
  public MmStruct mm() {
    return mm;
  }

  /**
   * {@code kvm_follow_pfn}. {@code mapWritable} says whether the caller passed a
   * {@code map_writable} pointer (it wants a writable mapping even for a read).
   */
  public long followPfn(
      MemorySlot slot, long gfn, int foll, boolean pin, boolean mapWritable, FaultinResult out) {
    boolean write = (foll & Foll.WRITE) != 0;
    if (slot == null || slot.isInvalid() || !slot.containsGfn(gfn)) {
      return KvmPfn.NOSLOT;
    }
    if (slot.isReadonly() && write) {
      return KvmPfn.ERR_RO_FAULT;
    }
    long hva = slot.gfnToHva(gfn);
    out.hva(hva);
    if (slot.isReadonly() && mapWritable) {
      out.denyWritable();
      mapWritable = false;
    }
    return hvaToPfn(hva, foll, pin, mapWritable, out);
  }

  /**
   * {@code hva_to_pfn}: every path may sleep (slow GUP faults and does IO, the PFNMAP path takes
   * mmap_lock), which the kernel annotates on entry.
   */
  long hvaToPfn(long hva, int foll, boolean pin, boolean mapWritable, FaultinResult out) {
    log.emit(Tracepoint.MIGHT_SLEEP, SleepSite.HVA_TO_PFN.ordinal(), 0, 0);
    scheduler.point("hva_to_pfn");
    boolean write = (foll & Foll.WRITE) != 0;
    if (write || mapWritable) {
      long page = mm.getUserPagesFastOnly(hva, Foll.WRITE | (pin ? Foll.PIN : 0));
      if (page >= 0) {
        log.emit(Tracepoint.KVM_GET_PAGE, page, pin ? 1 : 0, 0);
        out.resolve(page, mapWritable, hva);
        return page;
      }
    }
    long npages = hvaToPfnSlow(hva, foll, pin, mapWritable, out);
    if (npages > 0) {
      return out.refcountedPage();
    }
    if (npages == Errno.EINTR.negative() || npages == Errno.EAGAIN.negative()) {
      return KvmPfn.ERR_SIGPENDING;
    }
    if (npages == Errno.EHWPOISON.negative()) {
      return KvmPfn.ERR_HWPOISON;
    }
    mm.mmapReadLock();
    try {
      Vma vma = mm.findVma(hva);
      if (vma == null) {
        return KvmPfn.ERR_FAULT;
      }
      if (vma.has(Vma.VM_IO) || vma.has(Vma.VM_PFNMAP)) {
        return hvaToPfnRemapped(hva, write, pin, mapWritable, out);
      }
      if ((foll & Foll.NOWAIT) != 0 && vma.has(write ? Vma.VM_WRITE : Vma.VM_READ)) {
        return KvmPfn.ERR_NEEDS_IO;
      }
      return KvmPfn.ERR_FAULT;
    } finally {
      mm.mmapReadUnlock();
    }
  }

  /**
   * {@code hva_to_pfn_slow}: returns 1 with the page resolved into {@code out}, 0 when GUP gave
   * up without an error (FOLL_NOWAIT and the page needs I/O), or a negative errno.
   */
  private long hvaToPfnSlow(long hva, int foll, boolean pin, boolean mapWritable, FaultinResult out) {
    int flags = Foll.HWPOISON | Foll.HONOR_NUMA_FAULT | foll | (pin ? Foll.PIN : 0);
    long page;
    if (inject.gupEfault()) {
      page = Errno.EFAULT.negative();
    } else if (inject.gupHwpoison()) {
      page = Errno.EHWPOISON.negative();
    } else {
      page = mm.getUserPages(hva, flags);
    }
    if (page < 0) {
      boolean gaveUp = page == Errno.EAGAIN.negative() && (foll & Foll.NOWAIT) != 0;
      return gaveUp ? 0 : page;
    }
    boolean writable = (flags & Foll.WRITE) != 0;
    if (!pin && !writable && mapWritable) {
      long wpage = mm.getUserPagesFastOnly(hva, Foll.WRITE);
      if (wpage >= 0) {
        memory.putPage(page);
        page = wpage;
        writable = true;
      }
    }
    log.emit(Tracepoint.KVM_GET_PAGE, page, pin ? 1 : 0, 0);
    out.resolve(page, mapWritable && writable, hva);
    return 1;
  }

  /**
   * {@code hva_to_pfn_remapped}: PFNMAP/IO memory through {@code follow_pfnmap_start}, faulting
   * it in with {@code fixup_user_fault} if needed. No reference is ever taken; a caller that
   * wants a pin is refused unless {@code allow_unsafe_mappings} is set, because remapped
   * memory cannot be pinned.
   */
  private long hvaToPfnRemapped(
      long hva, boolean write, boolean pin, boolean mapWritable, FaultinResult out) {
    if (pin && !allowUnsafeMappings) {
      return KvmPfn.ERR_FAULT;
    }
    PfnmapEntry entry = mm.followPfnmap(hva);
    if (entry == null) {
      int r = mm.fixupUserFault(hva, write);
      if (r != 0) {
        return KvmPfn.ERR_FAULT;
      }
      entry = mm.followPfnmap(hva);
      if (entry == null) {
        return KvmPfn.ERR_FAULT;
      }
    }
    if (write && !entry.writable()) {
      return KvmPfn.ERR_RO_FAULT;
    }
    out.resolve(KvmPfn.NO_PAGE, mapWritable && entry.writable(), hva);
    return entry.pfn();
  }
}
