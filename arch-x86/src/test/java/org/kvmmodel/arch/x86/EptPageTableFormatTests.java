package org.kvmmodel.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableObserver;
import org.kvmmodel.api.pt.PageTablePage;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.SimpleTableMemory;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;

class EptPageTableFormatTests {

  private static final long WB = Spte.vmxGetMtMask(false, true);

  private final List<String> events = new ArrayList<>();
  private final List<String> flushes = new ArrayList<>();
  private final SimpleTableMemory memory = new SimpleTableMemory(0x100_0000L, 4096);

  private final PageTableObserver observer =
      new PageTableObserver() {
        @Override
        public void entryChanged(
            PageTablePage table, int index, int level, long gfn, long oldValue, long newValue) {
          events.add(String.format(Locale.US, "L%d %#x: %#x -> %#x", level, gfn, oldValue, newValue));
        }
      };

  private final WalkControl control =
      new WalkControl() {
        @Override
        public boolean shouldYield() {
          return false;
        }

        @Override
        public void yieldLock() {}

        @Override
        public void flushTlbs() {
          flushes.add("all");
        }

        @Override
        public void flushTlbRange(long gfn, long pages) {
          flushes.add(String.format(Locale.US, "%#x+%d", gfn, pages));
        }
      };

  private PageTableCursor cursor(EptPageTableFormat format) {
    return RadixPageTable.create(format, memory, memory, observer).newCursor(control);
  }

  @Test
  void geometryFollowsTheConfiguration() {
    X86Plugin plugin = new X86Plugin();
    EptPageTableFormat four = EptPageTableFormat.forConfiguration(plugin.configuration("ept4-ad"));
    EptPageTableFormat five = EptPageTableFormat.forConfiguration(plugin.configuration("ept5-noad"));
    assertEquals(48, four.geometry().addressBits());
    assertEquals(57, five.geometry().addressBits());
    assertEquals(4, four.geometry().kernelLevel(0));
    assertTrue(four.encoder().adEnabled());
    assertFalse(five.encoder().adEnabled());
    assertFalse(five.geometry().leafAllowed(five.geometry().depthOf(4)));
    assertTrue(five.geometry().leafAllowed(five.geometry().depthOf(3)));
  }

  @Test
  void mapLinksNonLeafSptesAndInstallsTheLeaf() {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(true, true));
    PageTableCursor cursor = cursor(format);
    long leaf = format.encoder().makeSpte(1, 0x777, Spte.ACC_ALL, false, true, WB);
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x1234, 1, leaf));
    assertTrue(cursor.walk(0x1234));
    assertEquals(leaf, cursor.entry());
    PageTablePage root = cursor.pageTable().root();
    long rootEntry = root.entry(0);
    assertEquals(
        format.encoder().makeNonleafSpte(rootEntry & Spte.BASE_ADDR_MASK), rootEntry);
    assertEquals(Spte.SHADOW_NONPRESENT_VALUE, root.entry(1));
    assertEquals(4, events.size());
    assertEquals("L4 0x0: 0x8000000000000000 -> 0x8000000001001907", events.get(0));
  }

  @Test
  void zapFreezesFlushesThenWritesTheNonPresentValue() {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(true, true));
    PageTableCursor cursor = cursor(format);
    long leaf = format.encoder().makeSpte(1, 0x777, Spte.ACC_ALL, false, true, WB);
    cursor.map(5, 1, leaf);
    events.clear();
    assertEquals(1, cursor.zapRange(0, 16));
    assertEquals(
        List.of(
            String.format(Locale.US, "L1 0x5: %#x -> 0x80000000000005a0", leaf),
            "L1 0x5: 0x80000000000005a0 -> 0x8000000000000000"),
        events);
    assertEquals(List.of("0x5+1"), flushes);
    assertFalse(cursor.walk(5));
    assertEquals(Spte.SHADOW_NONPRESENT_VALUE, cursor.entry());
  }

  @Test
  void splitMakesSmallSptesWithoutAFlush() {
    EptPageTableFormat format = new EptPageTableFormat(5, new EptSpteEncoder(false, true));
    PageTableCursor cursor = cursor(format);
    long huge = format.encoder().makeSpte(2, 0x400, Spte.ACC_ALL, false, true, WB);
    cursor.map(0x200, 2, huge);
    assertEquals(UpdateStatus.CHANGED, cursor.splitHuge(0x3FF));
    assertTrue(flushes.isEmpty());
    for (int i = 0; i < 512; i += 37) {
      assertTrue(cursor.walk(0x200 + i));
      assertEquals(1, cursor.level());
      assertEquals(EptSpteEncoder.makeSmallSpte(huge, 1, i), cursor.entry());
    }
  }

  @Test
  void agingWithoutAdBitsAccessTracksAndWriteProtectKeepsMmuWritable() {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(false, true));
    PageTableCursor cursor = cursor(format);
    cursor.map(9, 1, format.encoder().makeSpte(1, 0x9, Spte.ACC_ALL, false, true, WB));
    assertEquals(1, cursor.writeProtectRange(0, 512));
    assertTrue(cursor.walk(9));
    assertFalse(Spte.isWritablePte(cursor.entry()));
    assertTrue(Spte.isMmuWritableSpte(cursor.entry()));
    assertTrue(cursor.testYoungRange(0, 512));
    assertEquals(1, cursor.ageRange(0, 512));
    cursor.walk(9);
    assertTrue(Spte.isAccessTrackSpte(cursor.entry()));
    assertFalse(cursor.testYoungRange(0, 512));
  }

  @Test
  void hugeLeafOverATableFreezesTheOldChildrenAndFlushes() {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(true, true));
    PageTableCursor cursor = cursor(format);
    cursor.map(0x200, 1, format.encoder().makeSpte(1, 0x1, Spte.ACC_ALL, false, true, WB));
    cursor.walk(0x200);
    PageTablePage oldTable = cursor.table();
    long huge = format.encoder().makeSpte(2, 0x200, Spte.ACC_ALL, false, true, WB);
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x200, 2, huge));
    assertEquals(List.of("0x200+512"), flushes);
    assertEquals(Spte.FROZEN_SPTE, oldTable.entry(0));
    assertEquals(Spte.FROZEN_SPTE, oldTable.entry(511));
    assertEquals(1, memory.freedTables());
  }

  @Test
  void concurrentFaultsAndZapsNeverLeaveFrozenOrForeignSptes() throws Exception {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(true, true));
    RadixPageTable table = RadixPageTable.create(format, memory, memory, null);
    int pages = 2048;
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong zapped = new AtomicLong();
    Thread zapper =
        new Thread(
            () -> {
              PageTableCursor mine = table.newCursor(control());
              while (!stop.get()) {
                zapped.addAndGet(mine.zapRange(0, pages));
              }
            });
    zapper.start();
    try {
      PageTableCursor faulting = table.newCursor(control());
      long deadline = System.nanoTime() + 10_000_000_000L;
      for (int round = 0; round < 50 || (zapped.get() == 0 && System.nanoTime() < deadline); round++) {
        for (long gfn = 0; gfn < pages; gfn++) {
          long leaf = format.encoder().makeSpte(1, 0x10000 + gfn, Spte.ACC_ALL, false, true, WB);
          faulting.map(gfn, 1, leaf);
        }
      }
    } finally {
      stop.set(true);
      zapper.join(10_000);
    }
    assertFalse(zapper.isAlive());
    assertTrue(zapped.get() > 0, "the zapping thread never met a leaf");
    PageTableCursor check = table.newCursor(control());
    for (long gfn = 0; gfn < pages; gfn++) {
      if (check.walk(gfn)) {
        assertEquals(
            format.encoder().makeSpte(1, 0x10000 + gfn, Spte.ACC_ALL, false, true, WB), check.entry());
      } else {
        assertEquals(Spte.SHADOW_NONPRESENT_VALUE, check.entry(), "gfn " + gfn);
      }
    }
  }

  private static WalkControl control() {
    return new WalkControl() {
      @Override
      public boolean shouldYield() {
        return false;
      }

      @Override
      public void yieldLock() {}

      @Override
      public void flushTlbs() {}

      @Override
      public void flushTlbRange(long gfn, long pages) {
        Thread.onSpinWait();
      }
    };
  }

  @Test
  void freeAllZapsEverythingAndFreesEveryTable() {
    EptPageTableFormat format = new EptPageTableFormat(4, new EptSpteEncoder(true, true));
    PageTableCursor cursor = cursor(format);
    for (long gfn = 0; gfn < 2048; gfn += 3) {
      cursor.map(gfn, 1, format.encoder().makeSpte(1, gfn, Spte.ACC_ALL, false, true, WB));
    }
    cursor.freeAll();
    assertEquals(memory.allocatedTables(), memory.freedTables());
  }
}
