package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.sched.DeterministicScheduler;
import org.kvmmodel.core.sched.SchedulePolicy;

/**
 * The folio lock between writeback and write faults on a shared file mapping: writeback's
 * folio_clear_dirty_for_io (page_mkclean, then clearing PG_dirty) runs under the folio lock,
 * and so does the write fault's page_mkwrite and fault_dirty_shared_page, so no write
 * permission can be granted between the clean of the entries and the clean of the folio.
 */
class FolioLockTests {

  private static final long BASE = 0x5000_0000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;
  private static final int SEEDS = 150;

  private static final String MKCLEAN = "mkclean done";
  private static final String CLEANED = "clear_dirty_for_io";
  private static final String FAULTING = "writer takes mmap_lock";
  private static final String FAULTING_LOCKED = "writer takes mmap_lock, folio locked";
  private static final String STORED = "store";

  /** Maps {@code file} shared at {@link #BASE} in {@code mm} and writes its first page. */
  private static MmStruct writtenMapping(HostFile file, MmStruct mm) {
    assertEquals(BASE, mm.mmapFile(BASE, 4 * 4096, RW, file, 0));
    assertEquals(0, mm.userWrite(BASE));
    return mm;
  }

  /** What one schedule of the race did. */
  private record Race(List<String> events, boolean writableAtClean, boolean endWritable,
      boolean endDirty, boolean endWriteback) {

    int indexOf(String event) {
      return events.indexOf(event);
    }

    /** The writer entered its fault while writeback held the folio lock, before the clean. */
    boolean overlapped() {
      int fault = indexOf(FAULTING_LOCKED);
      return fault >= 0 && fault < indexOf(CLEANED);
    }
  }

  /**
   * One deterministic schedule of: a page of a shared file mapping, written once and written
   * back (so its entry is read-only and the folio clean), raced by a writeback of it and by a
   * write to it, either a user store or a GUP with FOLL_WRITE as KVM's faultin takes.
   */
  private static Race race(long seed, SchedulePolicy policy, boolean gup) {
    DeterministicScheduler s =
        new DeterministicScheduler(ChoiceStream.seeded(seed), policy, 3, 300, 100_000);
    HostMemory mem = new HostMemory(4096, 0, 0, s);
    HostFile file = mem.createFile(4);
    MmStruct mm = writtenMapping(file, new MmStruct(mem, s));
    assertTrue(mem.writeback(file, 0));
    mem.endWriteback(file, 0);
    long pfn = file.cachedPfn(0);
    assertFalse(HostPte.isWritable(mm.hostPte(BASE)));
    assertFalse(mem.isDirty(pfn));

    List<String> events = new ArrayList<>();
    AtomicReference<Boolean> writableAtClean = new AtomicReference<>(false);
    mm.registerNotifier(new MkcleanRecorder(events));
    mem.addWritebackListener((p, dirty) -> {
      events.add(CLEANED);
      writableAtClean.set(HostPte.isWritable(mm.hostPte(BASE)));
    });
    mm.addMmapLockListener(
        exclusive -> events.add(mem.isLocked(pfn) ? FAULTING_LOCKED : FAULTING));
    s.spawn("writeback", () -> {
      if (mem.writeback(file, 0)) {
        s.point("writeback IO");
        mem.endWriteback(file, 0);
      }
    });
    s.spawn("writer", () -> {
      if (gup) {
        long got = mm.getUserPages(BASE, FollFlags.FOLL_WRITE);
        assertEquals(pfn, got);
        events.add(STORED);
        mem.putPage(got);
      } else {
        assertEquals(0, mm.userWrite(BASE, frame -> events.add(STORED)));
      }
    });
    DeterministicScheduler.Result r = s.run();
    assertTrue(r.passed(), () -> String.valueOf(r.failure()));
    long e = mm.hostPte(BASE);
    return new Race(events, writableAtClean.get(), HostPte.isWritable(e), mem.isDirty(pfn),
        mem.isWriteback(pfn));
  }

  /**
   * Records the end of each page_mkclean invalidation (the only ones these races raise), when
   * the entries are write-protected.
   */
  private static final class MkcleanRecorder implements MmuNotifier {
    private final List<String> events;

    MkcleanRecorder(List<String> events) {
      this.events = events;
    }

    @Override
    public int invalidateRangeStart(MmuNotifierRange range) {
      assertEquals(MmuNotifierEvent.PROTECTION_PAGE, range.event());
      return 0;
    }

    @Override
    public void invalidateRangeEnd(MmuNotifierRange range) {
      events.add(MKCLEAN);
    }

    @Override
    public boolean clearFlushYoung(MmStruct mm, long start, long end) {
      return false;
    }

    @Override
    public boolean clearYoung(MmStruct mm, long start, long end) {
      return false;
    }

    @Override
    public boolean testYoung(MmStruct mm, long address) {
      return false;
    }

    @Override
    public void release(MmStruct mm) {}
  }

  private static void raceEverySchedule(boolean gup) {
    int overlapped = 0;
    for (SchedulePolicy policy : SchedulePolicy.values()) {
      for (long seed = 0; seed < SEEDS; seed++) {
        Race race = race(seed, policy, gup);
        String where = String.format(Locale.US, "%s seed %d: %s", policy, seed, race.events());
        int clean = race.indexOf(CLEANED);
        int store = race.indexOf(STORED);
        assertTrue(store >= 0, where);
        assertTrue(gup || clean < 0 || store < race.indexOf(MKCLEAN) || store > clean,
            "no store lands between page_mkclean and the clean of the folio: " + where);
        assertFalse(race.writableAtClean(),
            "the entry is still write-protected when PG_dirty is cleared: " + where);
        assertTrue(!race.endWritable() || race.endDirty(),
            "a writable entry of a clean folio would lose the writes through it: " + where);
        if (race.overlapped()) {
          overlapped++;
          assertTrue(race.endDirty() && race.endWritable() && !race.endWriteback(),
              "the write waited for writeback's folio lock, then dirtied the folio: " + where);
        }
      }
    }
    assertTrue(overlapped > 0, "some schedule faulted while writeback held the folio lock");
  }

  @Test
  void aUserStoreRacingWritebackIsNeverLost() {
    raceEverySchedule(false);
  }

  @Test
  void aGupForWriteRacingWritebackIsNeverLost() {
    raceEverySchedule(true);
  }

  @Test
  void reclaimAndAgingPassOverAFolioLockedElsewhere() throws Exception {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(4);
    MmStruct mm = writtenMapping(file, new MmStruct(mem));
    long pfn = file.cachedPfn(0);
    mem.getPage(pfn);
    mem.folioLock(pfn);
    assertTrue(mem.isLocked(pfn));
    AtomicReference<ReclaimResult> reclaimed = new AtomicReference<>();
    AtomicReference<Integer> referenced = new AtomicReference<>();
    AtomicReference<MigrationHandle> migrating = new AtomicReference<>();
    Thread other = new Thread(() -> {
      referenced.set(mem.folioReferenced(pfn));
      reclaimed.set(mem.reclaimFolio(pfn));
      migrating.set(mem.migrateStart(pfn));
    });
    other.start();
    while (other.getState() != Thread.State.WAITING && other.isAlive()) {
      Thread.onSpinWait();
    }
    assertEquals(1, referenced.get(), "folio_referenced answers referenced when the trylock fails");
    assertEquals(ReclaimResult.KEPT_LOCKED, reclaimed.get());
    assertTrue(other.isAlive(), "migration sleeps in folio_lock");
    assertTrue(HostPte.isPresent(mm.hostPte(BASE)), "not unmapped while waiting");
    mem.folioUnlock(pfn);
    other.join();
    assertTrue(HostPte.isMigration(mm.hostPte(BASE)), "unmapped once the lock was free");
    assertTrue(mem.isLocked(pfn), "the migrating folio stays locked until the move");
    mem.putPage(pfn);
  }
}
