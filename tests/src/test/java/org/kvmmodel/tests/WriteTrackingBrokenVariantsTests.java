package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.check.CheckResult;
import org.kvmmodel.core.check.CheckStatus;
import org.kvmmodel.core.check.Checker;
import org.kvmmodel.core.check.DirtyLogCompleteCheck;
import org.kvmmodel.core.check.NoLostWriteCheck;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.vcpu.Vcpu;
import org.kvmmodel.tests.doubles.Breakage;
import org.kvmmodel.tests.doubles.ToyDriver;
import org.kvmmodel.tests.doubles.ToyVms;

/**
 * NO-LOST-WRITE and DIRTY-LOG-COMPLETE each catch a double with one deliberate bug, with the
 * message asserted, and pass on the correct double running the same guest accesses.
 */
class WriteTrackingBrokenVariantsTests {

  private static final long PAGES = 4;
  private static final long BYTES = PAGES << HostPageSize.SIZE_4K.shift();
  private static final long HVA = 0x7f0000000000L;

  private static KvmInstance vm(Breakage breakage) {
    KvmInstance kvm = ToyVms.create(breakage);
    assertEquals(HVA, kvm.vmm().mmap(HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, BYTES, HVA)));
    return kvm;
  }

  private static Vcpu vcpu(KvmInstance kvm) {
    return ToyVms.vcpu(kvm, 0);
  }

  private static Map<String, CheckResult> results(Checker checker) {
    return ToyVms.results(checker);
  }

  /**
   * The host stores to page 1 (its PTE becomes writable), the guest reads it (a read fault
   * given a writable pfn installs a writable leaf) and then writes it without faulting.
   */
  private static Map<String, CheckResult> readFaultThenWrite(Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    Checker checker = Checker.attach(kvm, List.of(NoLostWriteCheck::new), id -> true);
    Vcpu vcpu = vcpu(kvm);
    assertEquals(0, kvm.vmm().userWrite(HVA + 4096));
    vcpu.access(0x1000, GuestAccess.READ);
    long faults = vcpu.faults();
    vcpu.access(0x1000, GuestAccess.WRITE);
    assertEquals(faults, vcpu.faults(), "the write went through the leaf the read installed");
    ToyDriver driver = new ToyDriver(kvm);
    assertEquals(1, kvm.guestWrites().count(driver.leafPfn(driver.leafOf(1))));
    return results(checker);
  }

  /** Dirty logging on; the guest writes page 2, the log is harvested, the guest writes again. */
  private static Map<String, CheckResult> writeHarvestWriteHarvest(Breakage breakage) {
    KvmInstance kvm = vm(breakage);
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, BYTES, HVA)));
    Checker checker = Checker.attach(kvm, List.of(DirtyLogCompleteCheck::new), id -> true);
    Vcpu vcpu = vcpu(kvm);
    long[] bitmap = new long[1];
    vcpu.access(0x2000, GuestAccess.WRITE);
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 2, bitmap[0]);
    vcpu.access(0x2000, GuestAccess.WRITE);
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    return results(checker);
  }

  private static String firstMessage(CheckResult r) {
    assertEquals(CheckStatus.FAIL, r.status(), r.toString());
    return r.violations().get(0).message();
  }

  @Test
  void theCorrectDoublePassesBoth() {
    CheckResult noLostWrite = readFaultThenWrite(Breakage.NONE).get(NoLostWriteCheck.ID);
    assertEquals(CheckStatus.PASS, noLostWrite.status(), noLostWrite.toString());
    CheckResult complete = writeHarvestWriteHarvest(Breakage.NONE).get(DirtyLogCompleteCheck.ID);
    assertEquals(CheckStatus.PASS, complete.status(), complete.toString());
    assertEquals(4, complete.judged(), "both writes and both reports were judged");
  }

  @Test
  void aSlowPathThatDirtiesOnlyForWriteFaultsIsCaughtByNoLostWrite() {
    assertTrue(
        firstMessage(readFaultThenWrite(Breakage.RELEASES_DIRTY_ONLY_FOR_WRITE)
                .get(NoLostWriteCheck.ID))
            .matches("guest write to gfn 0x1 landed in folio 0x[0-9a-f]+ through a writable"
                + " stage-2 entry whose fault released the folio clean: a writable entry must"
                + " dirty the folio when it is created, even for a read fault"));
  }

  @Test
  void aReprotectThatSkipsAGfnIsCaughtByDirtyLogComplete() {
    assertTrue(
        firstMessage(writeHarvestWriteHarvest(Breakage.REPROTECT_SKIPS_A_GFN)
                .get(DirtyLogCompleteCheck.ID))
            .matches("guest write to gfn 0x2 at event \\d+ was not reported by KVM_GET_DIRTY_LOG"
                + " harvest #2, the first to begin after it with no fault on the gfn in flight"));
  }

  @Test
  void theWriteOrderedBugsPassTheOtherProgram() {
    assertEquals(CheckStatus.PASS,
        writeHarvestWriteHarvest(Breakage.RELEASES_DIRTY_ONLY_FOR_WRITE)
            .get(DirtyLogCompleteCheck.ID).status());
    assertEquals(CheckStatus.PASS,
        readFaultThenWrite(Breakage.REPROTECT_SKIPS_A_GFN).get(NoLostWriteCheck.ID).status());
  }
}
