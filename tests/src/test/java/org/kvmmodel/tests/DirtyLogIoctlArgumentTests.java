package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmCap;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * The argument checks of the dirty-log ioctls on a real x86 VM (two address spaces), as
 * {@code kvm_get_dirty_log_protect} and {@code kvm_clear_dirty_log_protect} make them, each
 * judged by the errno and by the bitmap
 * left behind (a refused request changes nothing): the address space and slot id, a slot with
 * no dirty bitmap, {@code first_page} aligned to 64 and inside the slot, {@code num_pages}
 * within the rest of the slot and a multiple of 64 unless it reaches the slot's end, and a user
 * buffer too short for the pages; and {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}'s flags.
 */
class DirtyLogIoctlArgumentTests {

  private static final long PAGES = 128;
  private static final int EINVAL = Errno.EINVAL.negative();
  /** {@code KVM_USER_MEM_SLOTS} on x86, which keeps three internal slots. */
  private static final int USER_MEM_SLOTS = MemslotLimits.KVM_MEM_SLOTS_NUM - 3;

  /** Slot 0: 128 logged pages, every page written by the guest; slot 1: 4 pages, not logged. */
  private static KvmInstance vm(boolean manualProtect) {
    KvmInstance kvm = ArchVms.withTouchedSlot("x86", "ept4-ad",
        "kvmmodel.vm.dirty-log.manual-protect = " + manualProtect, PAGES << 12,
        MemorySlot.KVM_MEM_LOG_DIRTY_PAGES);
    long hva = ArchVms.HVA + (PAGES << 12);
    assertEquals(hva, kvm.vmm().mmap(hva, 4 << 12, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, 0, 0x100000, 4 << 12, hva)));
    for (long gfn = 0; gfn < PAGES; gfn++) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE));
    }
    return kvm;
  }

  private static long[] peek(KvmInstance kvm) {
    long[] bitmap = new long[2];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    return bitmap;
  }

  @Test
  void getDirtyLogRefusesBadSlotsAndShortBuffersAndKeepsTheBits() {
    KvmInstance kvm = vm(true);
    assertEquals(EINVAL, kvm.getDirtyLog(2 << 16, new long[2]), "no address space 2");
    assertEquals(EINVAL, kvm.getDirtyLog(USER_MEM_SLOTS, new long[2]), "past the user slots");
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(USER_MEM_SLOTS - 1, new long[2]),
        "the last user slot id, unused");
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(1 << 16, new long[2]),
        "slot 0 of the SMM address space");
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(5, new long[2]), "no slot 5");
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(1, new long[2]), "slot 1 logs nothing");
    assertEquals(Errno.EFAULT.negative(), kvm.getDirtyLog(0, new long[1]), "128 pages: 2 words");
    assertArrayEquals(new long[] {-1L, -1L}, peek(kvm));
  }

  @Test
  void getDirtyLogWithoutManualProtectHarvestsAndReprotects() {
    KvmInstance kvm = vm(false);
    long flushes = kvm.remoteTlbFlushes();
    long[] bitmap = {7, 7};
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertArrayEquals(new long[] {-1L, -1L}, bitmap);
    assertFalse(ArchVms.writable(kvm, 0));
    assertFalse(ArchVms.writable(kvm, PAGES - 1));
    assertTrue(kvm.remoteTlbFlushes() > flushes, "the harvest flushed");
    flushes = kvm.remoteTlbFlushes();
    bitmap = new long[] {7, 7};
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertArrayEquals(new long[] {0, 0}, bitmap, "every word was exchanged with zero");
    assertEquals(flushes, kvm.remoteTlbFlushes(), "nothing harvested, nothing flushed");
  }

  @Test
  void clearDirtyLogRefusesMisplacedRangesAndChangesNothing() {
    KvmInstance kvm = vm(true);
    long[] all = {-1L, -1L};
    assertEquals(EINVAL, kvm.clearDirtyLog(2 << 16, 0, PAGES, all), "no address space 2");
    assertEquals(EINVAL, kvm.clearDirtyLog(USER_MEM_SLOTS, 0, PAGES, all));
    assertEquals(Errno.ENOENT.negative(), kvm.clearDirtyLog(USER_MEM_SLOTS - 1, 0, PAGES, all));
    assertEquals(Errno.ENOENT.negative(), kvm.clearDirtyLog(1, 0, 4, all), "no dirty bitmap");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, 1, 63, all), "first_page not a multiple of 64");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, 192, 0, all), "first_page past the slot");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, -64, 64, all), "a negative first_page");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, 0, -1, all), "a negative num_pages");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, 64, 65, all), "past the slot's end");
    assertEquals(EINVAL, kvm.clearDirtyLog(0, 0, 63, all),
        "short of the end and not a multiple of 64");
    assertEquals(Errno.EFAULT.negative(), kvm.clearDirtyLog(0, 0, PAGES, new long[1]),
        "a buffer shorter than the pages");
    assertArrayEquals(new long[] {-1L, -1L}, peek(kvm), "no refused clear cleared a bit");
    assertTrue(ArchVms.writable(kvm, 0), "nor write-protected anything");
  }

  @Test
  void clearDirtyLogAcceptsRangesReachingTheSlotsEnd() {
    KvmInstance kvm = vm(true);
    assertEquals(0, kvm.clearDirtyLog(0, PAGES, 0, new long[0]), "first_page at the end, none");
    assertEquals(0, kvm.clearDirtyLog(0, 64, 64, new long[] {1L << 63}), "exactly to the end");
    assertEquals(0, kvm.clearDirtyLog(0, 0, 64, new long[] {1L}), "a whole word short of it");
    assertArrayEquals(new long[] {-1L << 1, -1L >>> 1}, peek(kvm));
    assertFalse(ArchVms.writable(kvm, 0), "gfn 0 re-protected");
    assertFalse(ArchVms.writable(kvm, PAGES - 1), "the last gfn re-protected");
    assertTrue(ArchVms.writable(kvm, 1), "gfn 1 was not asked for");
  }

  /**
   * Only the requested bits that are set are cleared and re-protected; a request whose bits
   * are all clear already protects and flushes nothing.
   */
  @Test
  void clearDirtyLogReprotectsOnlyBitsThatWereSet() {
    KvmInstance kvm = vm(true);
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 4, 0}));
    assertFalse(ArchVms.writable(kvm, 4));
    assertEquals(0, ArchVms.access(kvm, 0, 5L << 12, GuestAccess.WRITE));
    long flushes = kvm.remoteTlbFlushes();
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 4, 0}));
    assertEquals(flushes, kvm.remoteTlbFlushes(), "bit 4 was clear: nothing to protect or flush");
    assertEquals(0, kvm.clearDirtyLog(0, 0, PAGES, new long[] {1L << 5, 0}));
    assertTrue(kvm.remoteTlbFlushes() > flushes);
    assertFalse(ArchVms.writable(kvm, 5));
  }

  @Test
  void manualProtectCapabilityTakesOnlyItsTwoFlags() {
    KvmInstance kvm = vm(false);
    assertEquals(EINVAL, kvm.enableCap(KvmCap.MANUAL_DIRTY_LOG_PROTECT2, 4));
    assertEquals(EINVAL, kvm.enableCap(KvmCap.MANUAL_DIRTY_LOG_PROTECT2, 2),
        "INITIALLY_SET needs MANUAL_PROTECT_ENABLE");
    assertEquals(0, kvm.enableCap(KvmCap.MANUAL_DIRTY_LOG_PROTECT2, 3));
    assertTrue(kvm.dirtyLogManualProtect());
    long[] bitmap = new long[2];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertArrayEquals(new long[] {-1L, -1L}, bitmap);
    assertArrayEquals(new long[] {-1L, -1L}, peek(kvm), "with manual protect GET only copies");
    assertEquals(0, kvm.enableCap(KvmCap.MANUAL_DIRTY_LOG_PROTECT2, 0));
    assertFalse(kvm.dirtyLogManualProtect());
  }
}
