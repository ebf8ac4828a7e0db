package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.Violation;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyPlugin;
import org.kvmmodel.tests.doubles.ToyVms;

/**
 * DIRTY-LOG-COMPLETE on a VM of several memslots, as generated scenarios build them: a write is
 * owed only by a harvest of its own slot that succeeds, follows the slot when KVM_MR_MOVE keeps
 * its bitmap, and is owed by no harvest once KVM freed the bitmap (logging turned off, slot
 * deleted). The rule still fails a harvest of the write's slot that leaves it out.
 */
class DirtyLogSlotsTests {

  private static final long PAGES = 64;
  private static final long BYTES = PAGES << HostPageSize.SIZE_4K.shift();
  private static final long HVA = 0x7f0000000000L;
  /** Slot 1 sits 1024 pages above slot 0 in guest-physical space. */
  private static final long SLOT1_GPA = 1024L << 12;

  /** Slot 0 logs dirty pages, slot 1 does not; both anonymous. */
  private static KvmInstance vm() {
    return vm(ToyPlugin.spinlockWholeVm());
  }

  private static KvmInstance vm(ToyPlugin plugin) {
    KvmInstance kvm = ToyVms.create(plugin, "");
    assertEquals(HVA, kvm.vmm().mmap(HVA, 2 * BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, 0, SLOT1_GPA, BYTES, HVA + BYTES)));
    return kvm;
  }

  private static Checker checker(KvmInstance kvm) {
    return Checker.attach(kvm, Checker.ALL, id -> id.equals(DirtyLogCompleteCheck.ID));
  }

  private static CheckResult verdict(Checker checker) {
    Map<String, CheckResult> results = ToyVms.results(checker);
    return results.get(DirtyLogCompleteCheck.ID);
  }

  @Test
  void aHarvestOfAnotherSlotThatFailsOwesNothingAndTheSlotsOwnHarvestDischargesTheWrite() {
    KvmInstance kvm = vm();
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    Checker checker = checker(kvm);
    vcpu.access(5L << 12, GuestAccess.WRITE);
    long[] bitmap = new long[1];
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(1, bitmap), "slot 1 does not log");
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 5, bitmap[0]);
    CheckResult r = verdict(checker);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(2, r.judged(), "the write slot 0's harvest owed, and the bit it reported");
  }

  @Test
  void aMovedSlotKeepsItsBitmapSoTheWriteIsReportedAtItsNewGfn() {
    KvmInstance kvm = vm();
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    Checker checker = checker(kvm);
    vcpu.access(7L << 12, GuestAccess.WRITE);
    long moved = 4096L << 12;
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, moved, BYTES, HVA)));
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 7, bitmap[0], "KVM_MR_MOVE reuses the old bitmap");
    CheckResult r = verdict(checker);
    assertEquals(CheckStatus.PASS, r.status(), r.toString());
    assertEquals(2, r.judged(), "the write the moved slot's harvest owed, and the bit reported");
  }

  @Test
  void turningLoggingOffFreesTheBitmapAndWithItWhatTheLogOwed() {
    KvmInstance kvm = vm();
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    Checker checker = checker(kvm);
    vcpu.access(9L << 12, GuestAccess.WRITE);
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, BYTES, HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0], "a new bitmap starts clear");
    CheckResult r = verdict(checker);
    assertEquals(List.of(), r.violations(), "the write went with the freed bitmap");
  }

  /**
   * A re-protect that leaves the first gfn of its mask writable: the second write to page 5
   * goes through without a fault, so it is never logged, and the next successful harvest of
   * slot 0 (#3, after slot 1's refused #2) leaves it out.
   */
  @Test
  void aHarvestOfTheWritesOwnSlotThatLeavesItOutStillFails() {
    KvmInstance kvm = vm(ToyPlugin.broken(Breakage.REPROTECT_SKIPS_A_GFN));
    Vcpu vcpu = ToyVms.vcpu(kvm, 0);
    Checker checker = checker(kvm);
    vcpu.access(5L << 12, GuestAccess.WRITE);
    long[] bitmap = new long[1];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    vcpu.access(5L << 12, GuestAccess.WRITE);
    assertEquals(Errno.ENOENT.negative(), kvm.getDirtyLog(1, bitmap));
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0]);
    CheckResult r = verdict(checker);
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    Violation v = r.violations().get(0);
    assertEquals("write-unreported", v.kind());
    assertTrue(v.message().startsWith("guest write to gfn 0x5 at event "), v.message());
    assertTrue(v.message().contains("was not reported by KVM_GET_DIRTY_LOG harvest #3, the first"
        + " to begin after it with no fault on the gfn in flight"), v.message());
  }
}
