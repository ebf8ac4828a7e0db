package org.kvmmodel.core.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.mm.VmaKind;

/** What each page-fault-test case expects, judged on outcomes built by hand. */
class PageFaultCaseTests {

  private static final PageFaultOutcome MMIO_EXIT =
      new PageFaultOutcome(1, KvmExit.MMIO, 0, false, false, false, false);
  private static final PageFaultOutcome EFAULT_EXIT =
      new PageFaultOutcome(1, 0, Errno.EFAULT.negative(), false, false, false, false);

  private static PageFaultOutcome completed(boolean writable, boolean young, boolean dirty) {
    return new PageFaultOutcome(0, 0, 0, true, writable, young, dirty);
  }

  private static PageFaultCase c(PageFaultAccess access, boolean logging, boolean readonly) {
    return new PageFaultCase(access, VmaKind.ANON_THP, logging, readonly);
  }

  @Test
  void everyAccessRunsOnEveryBackingWithAndWithoutLoggingAndReadOnlySlotsOnce() {
    List<PageFaultCase> all = PageFaultCase.all(true, true);
    assertEquals(64, all.size());
    assertEquals(64, new HashSet<>(all).size());
    assertEquals(32, PageFaultCase.all(false, true).size(),
        "no read-only cases without the capability");
    assertEquals(48, PageFaultCase.all(true, false).size(), "no shared-file cases on an MTE VM");
    assertTrue(PageFaultCase.all(true, false).stream()
        .noneMatch(c -> c.backing() == VmaKind.FILE_SHARED));
    assertEquals(MemorySlot.KVM_MEM_LOG_DIRTY_PAGES | MemorySlot.KVM_MEM_READONLY,
        c(PageFaultAccess.READ, true, true).slotFlags());
    assertEquals("cas on anon-thp, dirty logging, read-only slot",
        c(PageFaultAccess.CAS, true, true).label());
  }

  @Test
  void aStoreToAReadOnlySlotMustExitWithKvmExitMmioAndMapNothing() {
    PageFaultCase write = c(PageFaultAccess.WRITE, true, true);
    assertNull(write.unmet(MMIO_EXIT));
    assertEquals("expected KVM_EXIT_MMIO, got -EFAULT", write.unmet(EFAULT_EXIT));
    assertEquals("expected KVM_EXIT_MMIO, got no exit", write.unmet(completed(true, true, true)));
    assertEquals("an access KVM hands to userspace left a stage-2 leaf for the gfn",
        write.unmet(new PageFaultOutcome(1, KvmExit.MMIO, 0, true, false, true, false)));
    assertEquals("an access KVM hands to userspace is in the dirty log",
        write.unmet(new PageFaultOutcome(1, KvmExit.MMIO, 0, false, false, false, true)));
  }

  @Test
  void anAtomicToAReadOnlySlotMayExitWithAnErrorWhereTheArchCannotEmulateIt() {
    PageFaultCase cas = c(PageFaultAccess.CAS, false, true);
    assertNull(cas.unmet(MMIO_EXIT));
    assertNull(cas.unmet(EFAULT_EXIT));
    assertEquals("expected an exit to userspace, got no exit", cas.unmet(completed(true, true, false)));
  }

  @Test
  void aCompletedAccessLeavesAYoungLeaf() {
    PageFaultCase read = c(PageFaultAccess.READ, false, true);
    assertNull(read.unmet(completed(false, true, false)));
    assertEquals("expected no exit, got KVM_EXIT_MMIO", read.unmet(MMIO_EXIT));
    assertEquals("the stage-2 leaf of the gfn is not young after the access",
        read.unmet(completed(false, false, false)));
    assertEquals("no stage-2 leaf maps the gfn after the access completed",
        read.unmet(new PageFaultOutcome(0, 0, 0, false, false, false, false)));
  }

  @Test
  void withLoggingAStoreIsLoggedAndAReadIsLoggedExactlyWhenItsLeafIsWritable() {
    PageFaultCase cas = c(PageFaultAccess.CAS, true, false);
    assertNull(cas.unmet(completed(true, true, true)));
    assertEquals("the cas is missing from the dirty log", cas.unmet(completed(true, true, false)));
    PageFaultCase exec = c(PageFaultAccess.EXEC, true, false);
    assertNull(exec.unmet(completed(false, true, false)), "arm64 and RISC-V: mapped read-only");
    assertNull(exec.unmet(completed(true, true, true)), "x86: mapped writable and logged");
    assertEquals("the dirty log reports the gfn although its leaf is not writable",
        exec.unmet(completed(false, true, true)));
    assertEquals("the fault left a writable leaf but the dirty log misses the gfn",
        exec.unmet(completed(true, true, false)));
    assertNull(c(PageFaultAccess.READ, false, false).unmet(completed(true, true, false)),
        "without logging there is no dirty log to judge");
  }
}
