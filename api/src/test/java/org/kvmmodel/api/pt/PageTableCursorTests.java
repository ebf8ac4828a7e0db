package org.kvmmodel.api.pt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PageTableCursorTests {

  private static final long EMPTY = 0x9000_0000_0000_0000L;
  private static final long BASE = 0x4000_0000L;

  private static PageTableGeometry fourLevel() {
    return new PageTableGeometry(
        12, new int[] {9, 9, 9, 9}, 4, -1, new boolean[] {false, true, true, true});
  }

  private static PageTableGeometry concatenatedRoot() {
    return new PageTableGeometry(12, new int[] {11, 9, 9}, 2, -1, new boolean[] {true, true, true});
  }

  private final RecordingObserver observer = new RecordingObserver();
  private SimpleTableMemory memory = new SimpleTableMemory(BASE, 1 << 16);
  private TestFormat format;
  private RadixPageTable table;
  private RecordingControl control = new RecordingControl(0);
  private PageTableCursor cursor;

  private void build(PageTableGeometry geometry) {
    format = new TestFormat(geometry, EMPTY);
    table = RadixPageTable.create(format, memory, memory, observer);
    cursor = table.newCursor(control);
  }

  @Test
  void tryUpdateWalkedLeafIsOneObservedCmpxchgThroughTheRacePoint() {
    boolean[] lose = {false};
    format = new TestFormat(fourLevel(), EMPTY);
    table =
        RadixPageTable.create(
            format, new PageTableEnvironment(memory, memory, observer, (t, i, l, g) -> lose[0]));
    cursor = table.newCursor(control);
    assertThrows(IllegalStateException.class, () -> cursor.tryUpdateWalkedLeaf(0, 0));
    long leaf = TestFormat.leaf(0x7000, false);
    long writable = leaf | TestFormat.WRITABLE;
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x42, 1, leaf));
    assertTrue(cursor.walk(0x42));
    observer.events.clear();

    lose[0] = true;
    assertFalse(cursor.tryUpdateWalkedLeaf(leaf, writable), "the race point made it lose");
    assertTrue(observer.events.isEmpty());
    lose[0] = false;
    assertFalse(cursor.tryUpdateWalkedLeaf(leaf & ~TestFormat.YOUNG, writable), "stale expected");
    assertTrue(cursor.tryUpdateWalkedLeaf(leaf, writable));
    assertEquals(writable, cursor.entry());
    assertEquals(List.of(String.format(Locale.US, "L1 gfn=0x42 %#x->%#x", leaf, writable)), observer.events);
    assertTrue(cursor.walk(0x42));
    assertEquals(writable, cursor.entry());

    assertFalse(cursor.walk(0x43));
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> cursor.tryUpdateWalkedLeaf(EMPTY, leaf));
    assertEquals(String.format(Locale.US, "%#x is not a present leaf at level 1", EMPTY), e.getMessage());
  }

  @Test
  void replacingALeafLocksItAtomicallyThenStoresOverTheLockAndALeafTheFaultMayKeepStays() {
    build(fourLevel());
    long readOnly = TestFormat.leaf(0x7000, false);
    long writable = TestFormat.leaf(0x7000, true);
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x42, 1, writable));
    observer.kinds.clear();
    assertEquals(UpdateStatus.UNCHANGED, cursor.map(0x42, 1, readOnly, entry -> true));
    assertTrue(observer.kinds.isEmpty(), "a leaf the predicate keeps is not written");
    assertTrue(cursor.walk(0x42));
    assertEquals(writable, cursor.entry());
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x42, 1, readOnly, entry -> false));
    assertEquals(
        List.of(PageTableObserver.WriteKind.ATOMIC, PageTableObserver.WriteKind.LOCKED_STORE),
        observer.kinds);
    assertTrue(cursor.walk(0x42));
    assertEquals(readOnly, cursor.entry());
  }

  @Test
  void aStoreOverALockTheWriterDoesNotHoldIsRefused() {
    build(fourLevel());
    EntrySlot slot = new EntrySlot(observer, control, EntryRaceHook.NONE);
    slot.point(table.root(), 3, 4, 0x600000000L, 1L << 27);
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> slot.releaseLocked(TestFormat.LOCKED, 1));
    assertEquals(
        String.format(Locale.US,
            "entry of gfn 0x600000000 holds %#x, not the locked value %#x its writer took",
            EMPTY, TestFormat.LOCKED),
        e.getMessage());
    assertEquals(EMPTY, table.root().entry(3));
  }

  @Test
  void rootIsFilledWithTheEmptyValue() {
    build(concatenatedRoot());
    assertEquals(2048, table.root().entryCount());
    assertEquals(EMPTY, table.root().entry(0));
    assertEquals(EMPTY, table.root().entry(2047));
    assertEquals(0, table.root().physicalAddress() & (4 * 4096 - 1));
    assertEquals(4, memory.allocatedPages());
  }

  @Test
  void newTablesHoldTheirLevelsOwnEmptyValue() {
    format = new TestFormat(concatenatedRoot(), 0x4000_0000L, true);
    table = RadixPageTable.create(format, memory, memory, observer);
    cursor = table.newCursor(control);
    assertEquals(0x4000_2000L, table.root().entry(2047));
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x801, 0, TestFormat.leaf(0x3000, true)));
    assertFalse(cursor.walk(0x800 + 512 * 512));
    assertEquals(2, cursor.level());
    assertEquals(0x4000_2000L, cursor.entry());
    assertFalse(cursor.walk(0x800 + 512));
    assertEquals(1, cursor.level());
    assertEquals(0x4000_1000L, cursor.entry());
    assertFalse(cursor.walk(0x800));
    assertEquals(0, cursor.level());
    assertEquals(0, cursor.entry());
    assertEquals(1, cursor.zapRange(0, 1L << 20));
    assertFalse(cursor.walk(0x801));
    assertEquals(0, cursor.entry());
  }

  @Test
  void findLeafReportsTheFirstLeafInARangeAndChangesNothing() {
    build(concatenatedRoot());
    assertEquals(-1, cursor.findLeaf(0, 1L << 20));
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x801, 0, TestFormat.leaf(0x3000, true)));
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x90000, 0, TestFormat.leaf(0x4000, true)));
    int changes = observer.events.size();
    assertEquals(0x801, cursor.findLeaf(0, 1L << 20));
    assertEquals(0x90000, cursor.findLeaf(0x802, 1L << 20));
    assertEquals(-1, cursor.findLeaf(0x802, 0x90000));
    assertEquals(changes, observer.events.size(), "a read-only walk");
  }

  @Test
  void mapsAFourKibLeafThroughNewTablesAndWalksToIt() {
    build(fourLevel());
    long gfn = 0x12345;
    long leaf = TestFormat.leaf(0x7654_3000L, true);
    assertEquals(UpdateStatus.CHANGED, cursor.map(gfn, 1, leaf));
    assertTrue(cursor.walk(gfn));
    assertEquals(1, cursor.level());
    assertEquals(leaf, cursor.entry());
    assertEquals(gfn & 511, cursor.index());
    assertEquals(4, memory.allocatedTables());
    assertFalse(cursor.walk(gfn + 1));
    assertEquals(1, cursor.level());
    assertEquals(EMPTY, cursor.entry());
    assertFalse(cursor.walk(1L << 27));
    assertEquals(4, cursor.level());
    assertEquals(UpdateStatus.UNCHANGED, cursor.map(gfn, 1, leaf));
    // three table links and the leaf
    assertEquals(4, observer.events.size());
    assertTrue(observer.events.get(3).endsWith("->" + String.format("%#x", leaf)), observer.events.toString());
  }

  @Test
  void tableEntriesHoldTheChildPhysicalAddress() {
    build(fourLevel());
    cursor.map(0, 1, TestFormat.leaf(0x1000, false));
    long rootEntry = table.root().entry(0);
    PageTablePage child = memory.tableAt(rootEntry & TestFormat.ADDRESS);
    assertEquals(rootEntry & TestFormat.ADDRESS, child.physicalAddress());
    assertTrue(format.isPresent(child.entry(0), 3));
  }

  @Test
  void mappingInsideAHugeLeafSplitsItCarryingAddresses() {
    build(fourLevel());
    long huge = TestFormat.leaf(0x8000_0000L, true) ;
    assertEquals(UpdateStatus.CHANGED, cursor.map(512, 2, huge));
    assertTrue(cursor.walk(512 + 7));
    assertEquals(2, cursor.level());
    long small = TestFormat.leaf(0x1_0000_0000L, false);
    assertEquals(UpdateStatus.CHANGED, cursor.map(512 + 7, 1, small));
    assertTrue(cursor.walk(512 + 7));
    assertEquals(1, cursor.level());
    assertEquals(small, cursor.entry());
    assertTrue(cursor.walk(512 + 8));
    assertEquals(1, cursor.level());
    assertEquals(0x8000_0000L + 8 * 4096, cursor.entry() & TestFormat.ADDRESS);
    assertEquals(TestFormat.VALID | TestFormat.YOUNG | TestFormat.WRITABLE, cursor.entry() & 0xFFF);
  }

  @Test
  void mappingInsideAHugeLeafCanReplaceItWithAnEmptyTable() {
    build(fourLevel());
    cursor.map(512, 2, TestFormat.leaf(0x8000_0000L, true));
    int before = observer.events.size();
    long tablesBefore = memory.allocatedTables();
    long small = TestFormat.leaf(0x1_0000_0000L, false);
    assertEquals(UpdateStatus.CHANGED, cursor.mapReplacingHugeWithEmptyTable(512 + 7, 1, small));
    assertEquals(tablesBefore + 1, memory.allocatedTables());
    assertTrue(cursor.walk(512 + 7));
    assertEquals(1, cursor.level());
    assertEquals(small, cursor.entry());
    for (long gfn : new long[] {512, 512 + 6, 512 + 8, 1023}) {
      assertFalse(cursor.walk(gfn), "gfn " + gfn + " refaults");
      assertEquals(1, cursor.level());
    }
    // no prefilled children: the replacement of the 2 MiB leaf (lock and table), the new leaf
    assertEquals(before + 3, observer.events.size());
    assertEquals(1, format.flushes);
  }

  @Test
  void replacingAHugeLeafWithAnEmptyTableReportsNoMemory() {
    memory = new SimpleTableMemory(BASE, 3);
    build(fourLevel());
    long huge = TestFormat.leaf(0x8000_0000L, true);
    cursor.map(512, 2, huge);
    assertEquals(UpdateStatus.NO_MEMORY,
        cursor.mapReplacingHugeWithEmptyTable(512, 1, TestFormat.leaf(0x1000, true)));
    assertTrue(cursor.walk(512 + 3));
    assertEquals(huge, cursor.entry());
  }

  @Test
  void splitHugeReplacesTheLeafWithATableOfNextLevelLeaves() {
    build(fourLevel());
    long huge = TestFormat.leaf(0x4000_0000L, true);
    cursor.map(1L << 18, 3, huge);
    int before = observer.events.size();
    assertEquals(UpdateStatus.CHANGED, cursor.splitHuge((1L << 18) + 1000));
    // the replacement of the 1 GiB leaf (lock and table) plus 512 children
    assertEquals(before + 2 + 512, observer.events.size());
    assertTrue(cursor.walk((1L << 18) + 1000));
    assertEquals(2, cursor.level());
    assertEquals(0x4000_0000L + (1000 / 512) * (2L << 20), cursor.entry() & TestFormat.ADDRESS);
    assertEquals(UpdateStatus.UNCHANGED, cursor.splitHuge(5));
    assertEquals(1, format.flushes);
  }

  @Test
  void splitRangeBreaksHugeLeavesDownToTheTargetLevel() {
    build(fourLevel());
    cursor.map(1L << 18, 3, TestFormat.leaf(0x4000_0000L, true));
    cursor.map(2L << 18, 2, TestFormat.leaf(0x8000_0000L, true));
    cursor.map((2L << 18) + 512, 1, TestFormat.leaf(0x9000_0000L, true));
    assertEquals(UpdateStatus.CHANGED, cursor.splitRange(0, 3L << 18, 1));
    // one 1 GiB leaf into 512 2 MiB leaves, each into 512 4 KiB leaves; plus the lone 2 MiB leaf
    assertEquals(1 + 512 + 1, format.flushes);
    for (long gfn : new long[] {1L << 18, (1L << 18) + 777_77, (2L << 18) + 5}) {
      assertTrue(cursor.walk(gfn));
      assertEquals(1, cursor.level());
    }
    assertTrue(cursor.walk((1L << 18) + 777_77));
    assertEquals(0x4000_0000L + (777_77L << 12), cursor.entry() & TestFormat.ADDRESS);
    assertEquals(UpdateStatus.UNCHANGED, cursor.splitRange(0, 3L << 18, 1));
  }

  @Test
  void splitRangeReportsNoMemoryAndKeepsWhatItSplit() {
    memory = new SimpleTableMemory(BASE, 4);
    build(fourLevel());
    cursor.map(0, 2, TestFormat.leaf(0x20_0000L, true));
    cursor.map(512, 2, TestFormat.leaf(0x40_0000L, true));
    assertEquals(UpdateStatus.NO_MEMORY, cursor.splitRange(0, 1024, 1));
    assertTrue(cursor.walk(3));
    assertEquals(1, cursor.level());
    assertTrue(cursor.walk(515));
    assertEquals(2, cursor.level());
  }

  @Test
  void hugeLeafOverATableUnlinksTheSubtreeForDeferredFree() {
    build(fourLevel());
    cursor.map(512, 1, TestFormat.leaf(0x5000, true));
    long tablesBefore = memory.allocatedTables();
    assertEquals(UpdateStatus.CHANGED, cursor.map(512, 2, TestFormat.leaf(0x20_0000, true)));
    assertEquals(tablesBefore, memory.allocatedTables());
    assertEquals(1, memory.freedTables());
    assertEquals(1, observer.unlinked);
    assertTrue(cursor.walk(513));
    assertEquals(2, cursor.level());
  }

  @Test
  void exhaustedAllocatorReportsNoMemoryWithoutHalfBuiltEntries() {
    memory = new SimpleTableMemory(BASE, 2);
    build(fourLevel());
    assertEquals(UpdateStatus.NO_MEMORY, cursor.map(0, 1, TestFormat.leaf(0x1000, true)));
    assertFalse(cursor.walk(0));
    assertEquals(3, cursor.level());
    assertEquals(EMPTY, cursor.entry());
  }

  @Test
  void lostInstallRaceRetriesAndHandsTheUnusedTableBack() {
    build(fourLevel());
    format.failInstalls = 1;
    assertEquals(UpdateStatus.RETRY, cursor.map(0, 1, TestFormat.leaf(0x1000, true)));
    assertEquals(1, memory.freedTables());
    assertEquals(EMPTY, table.root().entry(0));
    assertEquals(UpdateStatus.CHANGED, cursor.map(0, 1, TestFormat.leaf(0x1000, true)));
  }

  @Test
  void lockedEntryOnThePathMeansRetry() {
    build(fourLevel());
    table.root().write(0, TestFormat.LOCKED);
    assertEquals(UpdateStatus.RETRY, cursor.map(0, 1, TestFormat.leaf(0x1000, true)));
    assertEquals(UpdateStatus.RETRY, cursor.splitHuge(0));
  }

  @Test
  void zapRangeZapsOverlappingLeavesAndSkipsEmptySubtrees() {
    build(concatenatedRoot());
    for (long gfn = 0; gfn < 1000; gfn++) {
      cursor.map(gfn, 0, TestFormat.leaf(0x10_0000_0000L + (gfn << 12), true));
    }
    cursor.map(1L << 27, 1, TestFormat.leaf(0x20_0000_0000L, true));
    assertEquals(10, cursor.zapRange(100, 110));
    assertFalse(cursor.walk(105));
    assertEquals(EMPTY, cursor.entry());
    assertTrue(cursor.walk(110));
    // a range that starts inside a 2 MiB leaf takes the whole leaf
    assertEquals(1, cursor.zapRange((1L << 27) + 3, (1L << 27) + 4));
    assertFalse(cursor.walk(1L << 27));
    assertEquals(990, cursor.zapRange(0, Long.MAX_VALUE));
    assertEquals(0, cursor.zapRange(0, Long.MAX_VALUE));
  }

  @Test
  void anExclusiveZapCanFreeTheTablesItEmptiesAndOnlyThose() {
    build(fourLevel());
    for (long gfn = 0; gfn < 4; gfn++) {
      cursor.map(gfn, 1, TestFormat.leaf((gfn + 1) << 12, true));
    }
    cursor.map(1024, 1, TestFormat.leaf(0x9000, true));
    assertEquals(2, cursor.zapRangeExclusiveFreeingEmptyTables(0, 2));
    assertEquals(1, cursor.zapRangeExclusiveFreeingEmptyTables(2, 3));
    assertEquals(0, observer.freed, "gfn 3 keeps its table");
    control.log.clear();
    // the range covers one entry, yet the table it leaves empty goes, its span flushed
    assertEquals(1, cursor.zapRangeExclusiveFreeingEmptyTables(3, 4));
    assertEquals(1, observer.freed);
    assertTrue(control.log.contains("flush 0+512"), control.log.toString());
    assertFalse(cursor.walk(0));
    assertEquals(2, cursor.level(), "the 2 MiB entry is empty again");
    assertTrue(cursor.walk(1024), "the table above still links gfn 1024's");
    // a plain exclusive zap leaves the emptied table linked; a later freeing walk takes it and
    // then every table above it that it leaves empty, never the root
    assertEquals(1, cursor.zapRangeExclusive(1024, 1025));
    assertEquals(1, observer.freed);
    assertEquals(0, cursor.zapRangeExclusiveFreeingEmptyTables(0, Long.MAX_VALUE));
    assertEquals(4, observer.freed);
    assertEquals(memory.freedTables(), observer.freed);
    assertFalse(cursor.walk(1024));
    assertEquals(4, cursor.level(), "the root entry is empty");
    assertEquals(EMPTY, table.root().entry(0));
  }

  @Test
  void coveredLeafOperationsSkipAHugeLeafTheRangeOnlyPartlyCovers() {
    build(fourLevel());
    cursor.map(0, 2, TestFormat.leaf(0x20_0000, true));
    cursor.map(512, 2, TestFormat.leaf(0x40_0000, true));
    for (long gfn = 1024; gfn < 1032; gfn++) {
      cursor.map(gfn, 1, TestFormat.leaf(gfn << 12, true));
    }
    // 64 pages inside the first 2 MiB leaf: neither aligned and whole, so nothing changes
    assertEquals(0, cursor.writeProtectCoveredLeaves(5, 69));
    assertEquals(0, cursor.writeProtectCoveredLeaves(0, 511));
    assertFalse(cursor.flushPending());
    assertTrue(cursor.walk(5));
    assertEquals(TestFormat.WRITABLE, cursor.entry() & TestFormat.WRITABLE);
    // aligned and whole: the 2 MiB leaf and three small ones change
    assertEquals(4, cursor.writeProtectCoveredLeaves(512, 1024 + 3));
    assertTrue(cursor.flushPending());
    cursor.clearFlushPending();
    assertTrue(cursor.walk(512));
    assertEquals(0, cursor.entry() & TestFormat.WRITABLE);
    assertTrue(cursor.walk(1024));
    assertEquals(0, cursor.entry() & TestFormat.WRITABLE, "small leaves are whole");
    assertTrue(cursor.walk(1027));
    assertEquals(TestFormat.WRITABLE, cursor.entry() & TestFormat.WRITABLE);
    // the overlap-based walk takes the partly covered leaf
    assertEquals(1, cursor.writeProtectRange(5, 6));
  }

  @Test
  void aStepFromAnUnalignedFrameCarriesItsMisalignmentOn() {
    build(fourLevel());
    cursor.map(512, 2, TestFormat.leaf(0x40_0000, true));
    cursor.map(1024, 2, TestFormat.leaf(0x60_0000, true));
    // gfn 3 walks to an empty 2 MiB entry and steps to 515, inside the next leaf, then 1027
    assertEquals(0, cursor.zapCoveredLeaves(3, 2048));
    assertTrue(cursor.walk(512));
    assertTrue(cursor.walk(1024));
    assertEquals(2, cursor.zapCoveredLeaves(0, 2048));
    assertTrue(cursor.flushPending());
    assertFalse(cursor.walk(512));
    assertFalse(cursor.walk(1024));
    assertEquals(0, cursor.zapCoveredLeaves(0, Long.MAX_VALUE));
  }

  @Test
  void zapRangeVisitsOnlyPopulatedTables() {
    build(fourLevel());
    cursor.map(5, 1, TestFormat.leaf(0x1000, true));
    cursor.map(1L << 35, 1, TestFormat.leaf(0x2000, true));
    CountingControl counting = new CountingControl();
    PageTableCursor counted = table.newCursor(counting);
    assertEquals(2, counted.zapRange(0, Long.MAX_VALUE));
    // root 512 + two chains of three 512-entry tables
    assertEquals(512 + 2 * 3 * 512, counting.consulted, 64);
  }

  @Test
  void writeProtectBatchesTheFlushAndAgingClearsYoung() {
    build(fourLevel());
    for (long gfn = 0; gfn < 8; gfn++) {
      cursor.map(gfn, 1, TestFormat.leaf((gfn + 1) << 12, gfn % 2 == 0));
    }
    assertEquals(4, cursor.writeProtectRange(0, 8));
    assertTrue(cursor.flushPending());
    cursor.clearFlushPending();
    assertEquals(0, cursor.writeProtectRange(0, 8));
    assertFalse(cursor.flushPending());
    assertTrue(cursor.testYoungRange(3, 4));
    assertEquals(8, cursor.ageRange(0, 8));
    assertFalse(cursor.testYoungRange(0, 8));
    assertEquals(0, cursor.ageRange(0, 8));
    assertEquals(0, control.count("flush"));
  }

  @Test
  void updateLeafRangeAppliesATransformToEachLeaf() {
    build(fourLevel());
    for (long gfn = 0; gfn < 4; gfn++) {
      cursor.map(gfn, 1, TestFormat.leaf((gfn + 1) << 12, false));
    }
    assertEquals(2, cursor.updateLeafRange(1, 3, (e, level, gfn) -> e | TestFormat.WRITABLE));
    assertTrue(cursor.walk(2));
    assertEquals(TestFormat.WRITABLE, cursor.entry() & TestFormat.WRITABLE);
    assertTrue(cursor.walk(3));
    assertEquals(0, cursor.entry() & TestFormat.WRITABLE);
  }

  @Test
  void yieldingFlushesFirstAndRestartsAtTheNextFrame() {
    control = new RecordingControl(3);
    build(fourLevel());
    for (long gfn = 0; gfn < 40; gfn++) {
      cursor.map(gfn * 512, 1, TestFormat.leaf((gfn + 1) << 12, true));
    }
    control.log.clear();
    assertEquals(40, cursor.writeProtectRange(0, 39 * 512 + 1));
    List<String> log = control.log;
    assertTrue(control.count("yield") > 10, "yields: " + control.count("yield"));
    assertTrue(control.count("flush-all") > 1, "flushes: " + control.count("flush-all"));
    for (int i = 0; i < log.size(); i++) {
      if (log.get(i).equals("flush-all")) {
        assertEquals("yield", log.get(i + 1), "a batched flush is issued only to yield");
      }
    }
    assertTrue(cursor.flushPending(), "the flush for changes after the last yield stays pending");
    for (long gfn = 0; gfn < 40; gfn++) {
      assertTrue(cursor.walk(gfn * 512));
      assertEquals(0, cursor.entry() & TestFormat.WRITABLE);
    }
  }

  @Test
  void aWalkResumingAfterAYieldSeesChangesMadeWhileTheLockWasDropped() {
    build(fourLevel());
    for (long gfn = 0; gfn < 1024; gfn++) {
      cursor.map(gfn, 1, TestFormat.leaf((gfn + 1) << 12, true));
    }
    PageTableCursor other = table.newCursor(new RecordingControl(0));
    long[] yields = {0};
    WalkControl racing =
        new WalkControl() {
          @Override
          public boolean shouldYield() {
            return true;
          }

          @Override
          public void yieldLock() {
            if (yields[0]++ == 0) {
              // while the lock is dropped another thread replaces the second 2 MiB region
              other.map(512, 2, TestFormat.leaf(0x4000_0000L, true));
            }
          }

          @Override
          public void flushTlbs() {}

          @Override
          public void flushTlbRange(long gfn, long pages) {}
        };
    PageTableCursor zapper = table.newCursor(racing);
    // the first yield comes after gfn 0: 511 small leaves remain in the first table, then the
    // huge leaf that replaced the second table
    assertEquals(1 + 511 + 1, zapper.zapRange(0, 1024));
    assertTrue(yields[0] > 1);
    for (long gfn = 0; gfn < 1024; gfn++) {
      assertFalse(cursor.walk(gfn), "gfn " + gfn);
    }
  }

  @Test
  void freeAllHandsEveryTableToDeferredFree() {
    build(concatenatedRoot());
    for (long gfn = 0; gfn < 3000; gfn += 7) {
      cursor.map(gfn, 0, TestFormat.leaf(gfn << 12, true));
    }
    cursor.map(1L << 20, 1, TestFormat.leaf(1L << 32, true));
    cursor.freeAll();
    assertEquals(memory.allocatedTables(), memory.freedTables());
    assertEquals(observer.allocated, observer.freed);
    assertEquals(observer.allocated, observer.unlinked);
  }

  @Test
  void rejectsMisalignedOrOutOfRangeFrames() {
    build(fourLevel());
    assertThrows(IllegalArgumentException.class, () -> cursor.map(3, 2, 1));
    assertThrows(IllegalArgumentException.class, () -> cursor.map(0, 4, 1));
    assertThrows(IllegalArgumentException.class, () -> cursor.walk(1L << 36));
  }

  @Test
  void concurrentMapsOfDisjointFramesAllLand() throws Exception {
    build(fourLevel());
    int threads = 4;
    int perThread = 3000;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    try {
      Future<?>[] done = new Future<?>[threads];
      for (int t = 0; t < threads; t++) {
        int id = t;
        done[t] =
            pool.submit(
                () -> {
                  PageTableCursor mine = table.newCursor(new RecordingControl(0));
                  start.await();
                  for (int i = 0; i < perThread; i++) {
                    long gfn = (long) i * threads + id;
                    while (mine.map(gfn, 1, TestFormat.leaf((gfn + 1) << 12, true))
                        == UpdateStatus.RETRY) {
                      Thread.onSpinWait();
                    }
                  }
                  return null;
                });
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    PageTableCursor check = table.newCursor(control);
    for (long gfn = 0; gfn < (long) threads * perThread; gfn++) {
      assertTrue(check.walk(gfn), "gfn " + gfn);
      assertEquals((gfn + 1) << 12, check.entry() & TestFormat.ADDRESS);
    }
    assertEquals((long) threads * perThread, check.zapRange(0, Long.MAX_VALUE));
  }

  /** Counts how often the engine consults the yield hook, never yielding. */
  private static final class CountingControl implements WalkControl {
    int consulted;

    @Override
    public boolean shouldYield() {
      consulted++;
      return false;
    }

    @Override
    public void yieldLock() {
      throw new AssertionError("never asked to yield");
    }

    @Override
    public void flushTlbs() {}

    @Override
    public void flushTlbRange(long gfn, long pages) {}
  }
}
