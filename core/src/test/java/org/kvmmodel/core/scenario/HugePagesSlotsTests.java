package org.kvmmodel.core.scenario;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;

/** huge-pages' memslots in units of the host PMD: the 2 MiB layout on 4 KiB, scaled beyond. */
class HugePagesSlotsTests {

  private static final long MB = 1L << 20;
  private static final long HVA = HugePages.HVA;

  private static long[] describe(HugePages.Layout slot) {
    return new long[] {slot.id, slot.gpa, slot.size, slot.hva};
  }

  @Test
  void aFourKibHostKeepsTheTwoMibLayout() {
    HugePages.Slots s = new HugePages.Slots(HostPageSize.SIZE_4K);
    assertEquals(2 * MB, s.huge);
    assertArrayEquals(new long[] {0, 0, 4 * MB, HVA}, describe(s.thp));
    assertArrayEquals(new long[] {1, 4 * MB, 2 * MB, HVA + 8 * MB}, describe(s.hugetlb));
    assertArrayEquals(new long[] {2, 8 * MB, 2 * MB, HVA + 16 * MB + 4096}, describe(s.misaligned));
    assertArrayEquals(new long[] {3, 12 * MB, MB / 4, HVA + 24 * MB}, describe(s.small));
    assertArrayEquals(new long[] {4, 16 * MB, 3 * MB, HVA + 32 * MB}, describe(s.edge));
    assertArrayEquals(new long[] {5, 20 * MB, 2 * MB, HVA + 40 * MB}, describe(s.ioAligned));
    assertArrayEquals(new long[] {6, 24 * MB, 2 * MB, HVA + 44 * MB}, describe(s.ioMisaligned));
    assertEquals(HVA + 2 * MB, s.collapseHva);
  }

  @Test
  void largerHostsScaleEverySlotToTheirPmd() {
    for (HostPageSize host : new HostPageSize[] {HostPageSize.SIZE_16K, HostPageSize.SIZE_64K}) {
      HugePages.Slots s = new HugePages.Slots(host);
      long pmd = host.pmdSize();
      assertEquals(pmd, s.huge);
      assertEquals(pmd, s.hugetlb.size, host.label());
      assertEquals(0, s.hugetlb.hva % pmd, host.label());
      assertEquals(host.bytes(), (s.misaligned.hva - s.misaligned.gpa) % pmd, host.label());
      assertEquals(pmd / 8, s.small.size, host.label());
      assertEquals(pmd + pmd / 2, s.edge.size, host.label());
      assertEquals(0, (s.ioAligned.hva - s.ioAligned.gpa) % pmd, host.label());
      for (HugePages.Layout slot : s.all) {
        assertEquals(0, slot.size % host.bytes(), host.label() + " slot " + slot.id);
      }
    }
  }
}
