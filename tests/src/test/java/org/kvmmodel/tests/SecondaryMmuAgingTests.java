package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostPte;

/**
 * The aging side of KVM's mmu_notifier on each real arch, judged by the young state of the
 * stage-2 leaves in page-table memory and by the remote TLB flushes:
 * {@code kvm_mmu_notifier_clear_young} clears the accessed state of exactly the range and never
 * flushes, {@code kvm_mmu_notifier_test_young} answers for one page and changes nothing, and
 * {@code kvm_mmu_notifier_clear_flush_young} (reached from {@code folio_referenced}) clears and
 * flushes when something was young, except on x86, which has
 * {@code CONFIG_KVM_ELIDE_TLB_FLUSH_IF_YOUNG}. The arch hooks are {@code kvm_age_gfn} and
 * {@code kvm_test_age_gfn}: x86's TDP MMU and arm64's stage-2 walkers over the whole range,
 * RISC-V's on the leaf of the range's first gfn.
 */
class SecondaryMmuAgingTests {

  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;

  /** arch, configuration, and whether clear_flush_young flushes. */
  private static final List<String[]> ARCHES = List.of(
      new String[] {"x86", "ept4-ad", "no-flush"},
      new String[] {"arm64", "4k-ipa40", "flush"},
      new String[] {"riscv", "sv39x4-svade", "flush"});

  private static long hva(long gfn) {
    return ArchVms.HVA + (gfn << 12);
  }

  /** A VM whose guest has touched gfns 3, 4 and 5; the host's own PTEs are aged already. */
  private static KvmInstance touched(String[] arch) {
    KvmInstance kvm = ArchVms.withTouchedSlot(arch[0], arch[1], "", BYTES, 0);
    for (long gfn = 3; gfn <= 5; gfn++) {
      assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.WRITE), arch[0]);
      assertTrue(ArchVms.young(kvm, gfn), arch[0] + ": a fault maps its leaf young");
    }
    return kvm;
  }

  /** Ages every page one by one, as page_idle and MGLRU call clear_young: page by page. */
  private static void ageEveryPage(KvmInstance kvm) {
    for (long page = 0; page < PAGES; page++) {
      kvm.vmm().clearYoungNotify(hva(page), hva(page + 1));
    }
  }

  @Test
  void clearYoungAgesExactlyTheRangeWithoutAFlush() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = touched(arch);
      long flushes = kvm.remoteTlbFlushes();
      assertTrue(kvm.vmm().clearYoungNotify(hva(4), hva(5)), arch[0]);
      assertFalse(ArchVms.young(kvm, 4), arch[0] + ": kvm_age_gfn cleared the leaf's accessed bit");
      assertTrue(ArchVms.young(kvm, 3), arch[0] + ": below the range, untouched");
      assertTrue(ArchVms.young(kvm, 5), arch[0] + ": at the range's end, untouched");
      assertNotEquals(0, ArchVms.leaf(kvm, 4), arch[0] + ": aging never unmaps");
      assertEquals(flushes, kvm.remoteTlbFlushes(), arch[0] + ": clear_young does not flush");
      assertFalse(kvm.vmm().clearYoungNotify(hva(4), hva(5)),
          arch[0] + ": nothing was young the second time");
    }
  }

  @Test
  void testYoungAnswersForOnePageAndChangesNothing() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = touched(arch);
      ageEveryPage(kvm);
      assertFalse(kvm.vmm().testYoungNotify(hva(4)), arch[0] + ": host and stage 2 aged");
      assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.READ), arch[0]);
      assertTrue(ArchVms.young(kvm, 4), arch[0] + ": the guest's access made the leaf young");
      assertFalse(HostPte.isYoung(kvm.vmm().hostPte(hva(4))), arch[0] + ": the host PTE is old");
      assertTrue(kvm.vmm().testYoungNotify(hva(4) + 0x800), arch[0] + ": kvm_test_age_gfn");
      assertTrue(ArchVms.young(kvm, 4), arch[0] + ": test_young left the leaf young");
      assertFalse(kvm.vmm().testYoungNotify(hva(3)), arch[0] + ": the page below is old");
      assertFalse(kvm.vmm().testYoungNotify(hva(5)), arch[0] + ": the page above is old");
    }
  }

  @Test
  void clearFlushYoungAgesTheFolioMappingAndFlushesUnlessTheArchElidesIt() {
    for (String[] arch : ARCHES) {
      KvmInstance kvm = touched(arch);
      ageEveryPage(kvm);
      assertEquals(0, ArchVms.access(kvm, 0, 4L << 12, GuestAccess.READ), arch[0]);
      long pfn = HostPte.pfn(kvm.vmm().hostPte(hva(4)));
      long flushes = kvm.remoteTlbFlushes();
      assertEquals(1, kvm.memory().folioReferenced(pfn), arch[0] + ": young at stage 2 only");
      assertFalse(ArchVms.young(kvm, 4), arch[0] + ": clear_flush_young aged the leaf");
      long expected = arch[2].equals("flush") ? flushes + 1 : flushes;
      assertEquals(expected, kvm.remoteTlbFlushes(), arch[0]);
      assertEquals(0, kvm.memory().folioReferenced(pfn), arch[0] + ": old everywhere now");
      assertEquals(expected, kvm.remoteTlbFlushes(), arch[0] + ": nothing young, no flush");
    }
  }

  /**
   * RISC-V 6.13's {@code kvm_age_gfn} and {@code kvm_test_age_gfn} look only at the leaf of the
   * range's first gfn ({@code gstage_get_leaf_entry(range->start)}, with a WARN_ON for a range
   * that is not one page or one huge page): a wider clear_young ages that leaf alone.
   */
  @Test
  void riscvAgesOnlyTheLeafOfTheRangesFirstGfn() {
    KvmInstance kvm = touched(ARCHES.get(2));
    assertTrue(kvm.vmm().clearYoungNotify(hva(3), hva(6)));
    assertFalse(ArchVms.young(kvm, 3));
    assertTrue(ArchVms.young(kvm, 4), "not the range's first gfn");
    assertTrue(ArchVms.young(kvm, 5));
    assertFalse(kvm.vmm().testYoungNotify(hva(3)));
    assertTrue(kvm.vmm().testYoungNotify(hva(4)));
  }

  /** x86 and arm64 walk the whole range: a three-page clear_young ages all three leaves. */
  @Test
  void x86AndArm64AgeEveryLeafOfTheRange() {
    for (String[] arch : ARCHES.subList(0, 2)) {
      KvmInstance kvm = touched(arch);
      assertTrue(kvm.vmm().clearYoungNotify(hva(3), hva(6)), arch[0]);
      for (long gfn = 3; gfn <= 5; gfn++) {
        assertFalse(ArchVms.young(kvm, gfn), arch[0] + ": gfn " + gfn);
      }
    }
  }
}
