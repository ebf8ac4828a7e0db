package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;

class HostPteTests {

  @Test
  void presentEntriesRoundTrip() {
    long e = HostPte.make(0x12345, HostPte.LEVEL_PMD, HostPte.WRITE | HostPte.DIRTY);
    assertTrue(HostPte.isPresent(e));
    assertTrue(HostPte.mapsPfn(e));
    assertTrue(HostPte.isWritable(e) && HostPte.isDirty(e));
    assertFalse(HostPte.isYoung(e) || HostPte.isSpecial(e) || HostPte.isProtNone(e));
    assertEquals(0x12345, HostPte.pfn(e));
    assertEquals(HostPte.LEVEL_PMD, HostPte.level(e));
    assertEquals(0, HostPte.swpType(e));
    assertEquals(2L << 20, HostPageSize.SIZE_4K.levelSize(HostPte.level(e)));
    assertEquals("PMD pfn=0x12345 present W D", HostPte.describe(e));
    long stray = HostPte.make(1, HostPte.LEVEL_PTE, (long) HostPte.LEVEL_PUD << 5);
    assertEquals(HostPte.LEVEL_PTE, HostPte.level(stray), "level bits in the flags are ignored");
  }

  @Test
  void softwareEntriesAreNotPresentAndKeepTheirPayload() {
    long m = HostPte.makeSwp(HostPte.SWP_MIGRATION_WRITE, 0x777, HostPte.LEVEL_PTE,
        HostPte.DIRTY | HostPte.YOUNG | HostPte.WRITE);
    assertFalse(HostPte.isPresent(m));
    assertFalse(HostPte.mapsPfn(m));
    assertTrue(HostPte.isMigration(m) && HostPte.isMigrationWrite(m));
    assertTrue(HostPte.isDirty(m) && HostPte.isYoung(m));
    assertFalse(HostPte.isWritable(m), "write permission lives in the entry type");
    assertEquals(0x777, HostPte.pfn(m));
    assertEquals("PTE migration-write pfn=0x777", HostPte.describe(m));
    long s = HostPte.makeSwp(HostPte.SWP_SWAP, 42, HostPte.LEVEL_PTE, 0);
    assertTrue(HostPte.isSwap(s));
    assertFalse(HostPte.isMigration(s) || HostPte.isHwpoison(s));
    long p = HostPte.makeSwp(HostPte.SWP_HWPOISON, 9, HostPte.LEVEL_PUD, 0);
    assertTrue(HostPte.isHwpoison(p));
    assertEquals(HostPte.LEVEL_PUD, HostPte.level(p));
    assertTrue(HostPte.isNone(0));
    assertEquals("none", HostPte.describe(0));
  }
}
