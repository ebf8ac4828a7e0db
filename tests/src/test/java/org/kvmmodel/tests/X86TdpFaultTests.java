package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.arch.x86.EptWalker;
import org.kvmmodel.arch.x86.Spte;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * x86's TDP MMU fault path and memslot hooks ({@code kvm_tdp_mmu_page_fault},
 * {@code kvm_arch_prepare_memory_region}, {@code kvm_mmu_slot_apply_flags}), judged by the
 * values {@code KVM_RUN} would see, the SPTEs in page-table memory, the dirty bitmap and the
 * remote flushes: what {@code kvm_handle_error_pfn} and {@code kvm_handle_noslot_fault} make of
 * each faultin result, the retry of a fault that needs I/O without {@code FOLL_NOWAIT}
 * ({@code __kvm_mmu_faultin_pfn}), {@code kvm_mmu_max_gfn}, and the write protection of a slot
 * whose dirty logging is turned on.
 */
class X86TdpFaultTests {

  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;

  private static KvmInstance vm(String configuration, String extra, int flags) {
    return ArchVms.withTouchedSlot("x86", configuration, extra, BYTES, flags);
  }

  @Test
  void faultinErrorsBecomeTheKernelsExitsAndMapNothing() {
    String[][] cases = {
        {"gup-hwpoison", Integer.toString(Errno.EHWPOISON.negative())},
        {"gup-efault", Integer.toString(Errno.EFAULT.negative())},
        {"cache-enomem", Integer.toString(Errno.ENOMEM.negative())}};
    for (String[] c : cases) {
      KvmInstance kvm = ArchVms.create("x86", "ept4-ad",
          "kvmmodel.fault-injection." + c[0] + " = 100");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE,
          VmaKind.ANON));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
      assertEquals(Integer.parseInt(c[1]), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE),
          c[0]);
      assertEquals(0, ArchVms.leaf(kvm, 3), c[0]);
    }
  }

  @Test
  void noSlotAndReadOnlyWritesAreEmulatedAndAnMmioSpteIsEfault() {
    KvmInstance kvm = vm("ept4-ad", "", 0);
    long hva = ArchVms.HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmap(hva, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, MemorySlot.KVM_MEM_READONLY, 0x100000, BYTES, hva)));
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x200000, GuestAccess.READ), "no slot");
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x100000, GuestAccess.WRITE),
        "KVM_PFN_ERR_RO_FAULT is emulated");
    assertEquals(0, ArchVms.leaf(kvm, 0x100), "with nothing cached");
    assertEquals(0, ArchVms.access(kvm, 0, 0x100000, GuestAccess.READ));
    assertNotEquals(0, ArchVms.leaf(kvm, 0x100), "reads of the read-only gfn still map it");
    assertFalse(ArchVms.writable(kvm, 0x100));
    Stage2Walk misconfig = new Stage2Walk();
    misconfig.begin(3L << 12, GuestAccess.READ);
    misconfig.faulted(false, 0, EptWalker.EPT_MISCONFIG);
    assertEquals(Errno.EFAULT.negative(), kvm.arch().handleGuestFault(0, misconfig));
    assertEquals(0, kvm.vmm().munmap(ArchVms.HVA, BYTES));
    assertEquals(Errno.EFAULT.negative(), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ),
        "no VMA behind the slot");
  }

  /**
   * A shared file page not in the page cache: the {@code FOLL_NOWAIT} faultin gives up
   * ({@code KVM_PFN_ERR_NEEDS_IO}), the second, interruptible one reads it in, or with a signal
   * pending is {@code -EINTR} for {@code KVM_RUN}.
   */
  @Test
  void aFaultNeedingIoWaitsInterruptiblyForIt() {
    for (boolean signal : new boolean[] {false, true}) {
      KvmInstance kvm = ArchVms.create("x86", "ept4-ad", "");
      HostFile file = kvm.memory().createFile(PAGES);
      assertEquals(ArchVms.HVA, kvm.vmm().mmapFile(ArchVms.HVA, BYTES,
          Vma.VM_READ | Vma.VM_WRITE, file, 0));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
      kvm.vmm().setSignalPending(signal);
      int r = ArchVms.access(kvm, 0, 5L << 12, GuestAccess.READ);
      assertEquals(signal ? Errno.EINTR.negative() : 0, r, "signal " + signal);
      assertEquals(!signal, ArchVms.leaf(kvm, 5) != 0, "signal " + signal);
    }
  }

  /** {@code kvm_mmu_max_gfn} with 4-level EPT: a slot must end at or below 2^48. */
  @Test
  void aSlotPastTheLastGfnIsRefused() {
    KvmInstance kvm = ArchVms.create("x86", "ept4-ad", "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE,
        VmaKind.ANON));
    long top = 1L << 48;
    assertEquals(Errno.EINVAL.negative(), kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, top - BYTES + 0x1000, BYTES, ArchVms.HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, top - BYTES, BYTES, ArchVms.HVA)), "the last page fits");
  }

  /**
   * {@code kvm_mmu_slot_apply_flags}: turning dirty logging on write-protects every SPTE of the
   * slot and flushes; turning it off, or logging with an initially-set bitmap, does not.
   */
  @Test
  void enablingDirtyLoggingWriteProtectsTheSlotUnlessTheBitmapStartsSet() {
    for (boolean initiallySet : new boolean[] {false, true}) {
      KvmInstance kvm = vm("ept4-ad", initiallySet
          ? "kvmmodel.vm.dirty-log { manual-protect = true, initially-set = true }" : "", 0);
      for (long gfn = 0; gfn < PAGES; gfn++) {
        assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
      }
      long flushes = kvm.remoteTlbFlushes();
      assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
          0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, ArchVms.HVA)));
      for (long gfn = 0; gfn < PAGES; gfn++) {
        assertEquals(initiallySet, ArchVms.writable(kvm, gfn), "gfn " + gfn);
      }
      assertEquals(initiallySet, kvm.remoteTlbFlushes() == flushes,
          "initially set " + initiallySet);
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
      assertEquals(initiallySet, ArchVms.writable(kvm, 0), "turning logging off changes nothing");
    }
  }

  /**
   * Without A/D bits aging makes SPTEs access-tracked; the next access is fixed by
   * {@code fast_page_fault} restoring the SPTE ({@code restore_acc_track_spte}), the same page,
   * young again; and a write to a write-protected, MMU-writable SPTE is made writable there and
   * logged ({@code fast_pf_fix_direct_spte} → {@code mark_page_dirty_in_slot}).
   */
  @Test
  void theFastPathRestoresAccessTrackedSptesAndLogsWritesItAllows() {
    KvmInstance kvm = vm("ept4-noad", "kvmmodel.vm.dirty-log.manual-protect = true",
        MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.WRITE));
    long mapped = ArchVms.leaf(kvm, 4);
    assertTrue(kvm.vmm().clearYoungNotify(ArchVms.HVA + (4L << 12), ArchVms.HVA + (5L << 12)));
    long tracked = ArchVms.leaf(kvm, 4);
    assertEquals(0, tracked & Spte.RWX_MASK, "access-tracked: no permission left");
    assertFalse(ArchVms.young(kvm, 4));
    assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.READ));
    assertEquals(mapped & Spte.BASE_ADDR_MASK, ArchVms.leaf(kvm, 4) & Spte.BASE_ADDR_MASK);
    assertTrue(ArchVms.young(kvm, 4), "restored, accessed");

    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {-1L}));
    assertFalse(ArchVms.writable(kvm, 4));
    assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 4));
    assertEquals(mapped & Spte.BASE_ADDR_MASK, ArchVms.leaf(kvm, 4) & Spte.BASE_ADDR_MASK);
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 4, bitmap[0], "the fast path logged the write it allowed");
  }
}
