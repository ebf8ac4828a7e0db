package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;
import org.mockito.InOrder;
import org.mockito.Mockito;

class HostOperationTests {

  private static final long BASE = 0x6000_0000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  @Test
  void reclaimOfAYoungFolioOnlyAgesIt() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);

    assertEquals(ReclaimResult.KEPT_REFERENCED, mem.reclaimFolio(pfn));
    assertEquals(List.of("clear_flush_young 0x60000000-0x60001000"), rec.events);
    assertFalse(HostPte.isYoung(mm.hostPte(BASE)), "aging cleared the accessed bit");
    assertTrue(mem.isReferenced(pfn));
    assertEquals(pfn, HostPte.pfn(mm.hostPte(BASE)));
  }

  @Test
  void reclaimKeepsAFolioTheSecondaryMmuSaysIsYoung() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    mm.clearYoungNotify(BASE, BASE + 4096);
    RecordingNotifier rec = new RecordingNotifier(BASE);
    rec.young = true;
    mm.registerNotifier(rec);
    assertTrue(mm.testYoungNotify(BASE));
    assertEquals(ReclaimResult.KEPT_REFERENCED, mem.reclaimFolio(pfn));
    assertFalse(rec.young);
  }

  @Test
  void reclaimOfAnOldAnonymousFolioUnmapsToSwapInsideClear() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    assertTrue(mm.clearYoungNotify(BASE, BASE + (1 << 20)));
    MmuNotifier n = Mockito.mock(MmuNotifier.class);
    mm.registerNotifier(n);
    long allocated = mem.allocatedFolios();

    assertEquals(ReclaimResult.SWAPPED_OUT, mem.reclaimFolio(pfn));

    InOrder order = Mockito.inOrder(n);
    order.verify(n).clearFlushYoung(mm, BASE, BASE + 4096);
    MmuNotifierRange r = new MmuNotifierRange(mm, BASE, BASE + 4096, MmuNotifierEvent.CLEAR, true);
    order.verify(n).invalidateRangeStart(r);
    order.verify(n).invalidateRangeEnd(r);
    order.verifyNoMoreInteractions();
    assertTrue(HostPte.isSwap(mm.hostPte(BASE)));
    assertEquals(0, mem.refcount(pfn), "freed");
    assertEquals(allocated - 1, mem.allocatedFolios());
    assertEquals(1, mem.swapOuts());

    assertEquals(0, mm.userRead(BASE));
    assertTrue(HostPte.isPresent(mm.hostPte(BASE)));
    assertFalse(HostPte.isWritable(mm.hostPte(BASE)));
    assertEquals(1, mem.swapIns());
    assertEquals(0, mm.userWrite(BASE));
    assertTrue(HostPte.isWritable(mm.hostPte(BASE)), "exclusive: the write reuses it");
  }

  @Test
  void reclaimOfADirtyFileFolioWritesItBackAndAFreshOneIsFreed() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(8);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 8 * 4096, RW, file, 0);
    mm.userWrite(BASE);
    long pfn = file.cachedPfn(0);
    mm.clearYoungNotify(BASE, BASE + 4096);
    mem.clearFolioFlag(pfn, HostMemory.PG_REFERENCED);
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);

    assertEquals(ReclaimResult.WRITEBACK_STARTED, mem.reclaimFolio(pfn));
    assertEquals("start CLEAR 0x60000000-0x60001000", rec.events.get(1));
    assertTrue(HostPte.isDirty(rec.pteAtStart.get(0)));
    assertEquals(0, rec.pteAtEnd.get(0));
    assertTrue(mem.isWriteback(pfn));
    assertFalse(mem.isDirty(pfn));
    assertEquals(pfn, file.cachedPfn(0));
    assertEquals(ReclaimResult.KEPT_WRITEBACK, mem.reclaimFolio(pfn));
    mem.endWriteback(file, 0);
    assertEquals(ReclaimResult.FREED, mem.reclaimFolio(pfn));
    assertEquals(-1, file.cachedPfn(0));
    assertEquals(0, mem.refcount(pfn));
  }

  @Test
  void reclaimKeepsAFolioWithAnExtraReference() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    long pfn = mm.getUserPages(BASE, FollFlags.FOLL_WRITE);
    mm.clearYoungNotify(BASE, BASE + 4096);
    assertEquals(ReclaimResult.KEPT_BUSY, mem.reclaimFolio(pfn));
    assertTrue(HostPte.isPresent(mm.hostPte(BASE)));
  }

  @Test
  void migrationEntriesStopGupUntilFinishMapsTheNewFolio() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long old = HostPte.pfn(mm.hostPte(BASE));
    int oldGeneration = mem.allocationGeneration(old);
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);

    MigrationHandle h = mem.migrateStart(old);
    assertNotNull(h);
    assertEquals(List.of("start CLEAR 0x60000000-0x60001000", "end CLEAR 0x60000000-0x60001000"),
        rec.events, "try_to_migrate uses MMU_NOTIFY_CLEAR");
    long e = mm.hostPte(BASE);
    assertTrue(HostPte.isMigrationWrite(e));
    assertTrue(HostPte.isDirty(e), "migration entries keep dirty");
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, FollFlags.FOLL_WRITE));
    assertEquals(-Errno.EAGAIN, mm.getUserPages(BASE, FollFlags.FOLL_WRITE | FollFlags.FOLL_NOWAIT));
    assertEquals(-Errno.EAGAIN, mm.userRead(BASE));
    assertEquals(1, mem.refcount(old), "only the isolation reference");
    assertEquals(0, mem.mapcount(old));

    assertEquals(0, mem.migrateFinish(h));
    long now = HostPte.pfn(mm.hostPte(BASE));
    assertNotEquals(old, now);
    assertTrue(HostPte.isWritable(mm.hostPte(BASE)));
    assertTrue(mem.isAnon(now) && mem.isAnonExclusive(now) && mem.isLru(now));
    assertEquals(1, mem.refcount(now));
    assertEquals(1, mem.mapcount(now));
    assertEquals(0, mem.refcount(old), "the old folio was freed with its last reference");
    assertEquals(now, mm.getUserPagesFastOnly(BASE, FollFlags.FOLL_WRITE));
    mem.putPage(now);

    long reused = mem.allocFolio(0, 0);
    while (reused != old && reused >= 0) {
      reused = mem.allocFolio(0, 0);
    }
    assertEquals(old, reused, "the freed frame is allocated again");
    assertNotEquals(oldGeneration, mem.allocationGeneration(old));
  }

  @Test
  void migrationFailsBackWhenSomeoneTookAReferenceMeanwhile() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(4);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 4 * 4096, RW, file, 0);
    mm.userWrite(BASE);
    long old = file.cachedPfn(0);
    MigrationHandle h = mem.migrateStart(old);
    mem.getPage(old);
    assertEquals(-Errno.EAGAIN, mem.migrateFinish(h));
    assertEquals(old, HostPte.pfn(mm.hostPte(BASE)), "restored to the old folio");
    assertTrue(HostPte.isWritable(mm.hostPte(BASE)));
    mem.putPage(old);
    assertEquals(2, mem.refcount(old));

    MigrationHandle again = mem.migrateStart(old);
    assertEquals(0, mem.migrateFinish(again));
    long now = file.cachedPfn(0);
    assertNotEquals(old, now);
    assertEquals(now, HostPte.pfn(mm.hostPte(BASE)));
    assertEquals(2, mem.refcount(now));
    assertTrue(mem.isDirty(now), "folio_migrate_flags carried dirty");
    assertEquals(0, mem.refcount(old));
  }

  @Test
  void hwpoisonUnmapsWithPoisonEntriesAndGupReportsIt() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    long free = mem.freePages();
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);

    assertEquals(0, mem.memoryFailure(pfn));
    assertEquals(List.of("start CLEAR 0x60000000-0x60001000", "end CLEAR 0x60000000-0x60001000"),
        rec.events);
    assertTrue(mem.isHwpoison(pfn));
    assertTrue(HostPte.isHwpoison(mm.hostPte(BASE)));
    assertEquals(-Errno.EHWPOISON,
        mm.getUserPages(BASE, FollFlags.FOLL_WRITE | FollFlags.FOLL_HWPOISON));
    assertEquals(-Errno.EFAULT, mm.getUserPages(BASE, FollFlags.FOLL_WRITE));
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, 0));
    assertEquals(-Errno.EHWPOISON, mm.userRead(BASE));
    assertEquals(-Errno.EHWPOISON, mem.memoryFailure(pfn));
    assertEquals(free, mem.freePages(), "the poisoned frame never returns to the free list");
    assertEquals(0, mm.munmap(BASE, 1 << 20));
    assertTrue(mem.refcount(pfn) > 0, "memory_failure keeps its reference");
  }

  @Test
  void exitReleasesSubscribersBeforeTearingDown() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long allocated = mem.allocatedFolios();
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);
    mm.exitMmap();
    assertEquals(List.of("release"), rec.events, "unmapping after release reaches nobody");
    assertEquals(allocated - 1, mem.allocatedFolios());
    assertTrue(mm.hasExited());
  }

  @Test
  void mprotectWriteProtectsInsideProtectionVmaAndMadviseClears() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 16 * 4096, RW, VmaKind.ANON);
    mm.userWrite(BASE + 4096);
    RecordingNotifier rec = new RecordingNotifier(BASE + 4096);
    mm.registerNotifier(rec);

    assertEquals(0, mm.mprotect(BASE, 4 * 4096, Vma.VM_READ));
    assertEquals(List.of("start PROTECTION_VMA 0x60000000-0x60004000",
        "end PROTECTION_VMA 0x60000000-0x60004000"), rec.events);
    assertTrue(HostPte.isWritable(rec.pteAtStart.get(0)));
    assertFalse(HostPte.isWritable(rec.pteAtEnd.get(0)));
    assertTrue(HostPte.isDirty(mm.hostPte(BASE + 4096)), "mprotect keeps dirty");
    assertEquals(2, mm.vmas().size(), "the VMA was split");
    assertEquals(-Errno.EFAULT, mm.userWrite(BASE + 4096));
    assertEquals(-Errno.EFAULT, mm.getUserPages(BASE + 4096, FollFlags.FOLL_WRITE));

    assertEquals(0, mm.mprotect(BASE, 4 * 4096, RW));
    long pfn = HostPte.pfn(mm.hostPte(BASE + 4096));
    assertEquals(0, mm.userWrite(BASE + 4096));
    assertEquals(pfn, HostPte.pfn(mm.hostPte(BASE + 4096)), "exclusive page reused");

    rec.events.clear();
    assertEquals(0, mm.madviseDontneed(BASE, 16 * 4096));
    assertEquals("start CLEAR 0x60000000-0x60004000", rec.events.get(0));
    assertEquals(4, rec.events.size(), "one invalidation per VMA");
    assertEquals(0, mm.hostPte(BASE + 4096));
    assertEquals(0, mem.refcount(pfn));
  }

  @Test
  void mprotectNoneMakesEntriesProtNoneAndGupFails() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 4 * 4096, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    assertEquals(0, mm.mprotect(BASE, 4 * 4096, 0));
    assertTrue(HostPte.isProtNone(mm.hostPte(BASE)));
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, 0));
    assertEquals(-Errno.EFAULT, mm.getUserPages(BASE, 0));
    assertEquals(0, mm.mprotect(BASE, 4 * 4096, Vma.VM_READ));
    assertTrue(HostPte.isPresent(mm.hostPte(BASE)));
  }

  @Test
  void oomReaperSkipsAVmaWhoseSubscriberCannotProceedWithoutBlocking() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 4 * 4096, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    RecordingNotifier first = new RecordingNotifier(BASE);
    MmuNotifier busy = Mockito.mock(MmuNotifier.class);
    Mockito.when(busy.invalidateRangeStart(Mockito.any())).thenReturn(-Errno.EAGAIN);
    mm.registerNotifier(first);
    mm.registerNotifier(busy);

    assertFalse(mm.oomReap());
    assertEquals(List.of("start UNMAP 0x60000000-0x60004000", "end UNMAP 0x60000000-0x60004000"),
        first.events, "subscribers that started get their end");
    assertFalse(first.starts.get(0).blockable());
    Mockito.verify(busy, Mockito.never()).invalidateRangeEnd(Mockito.any());
    assertEquals(pfn, HostPte.pfn(mm.hostPte(BASE)), "nothing was unmapped");

    Mockito.when(busy.invalidateRangeStart(Mockito.any())).thenReturn(0);
    assertTrue(mm.oomReap());
    assertEquals(0, mm.hostPte(BASE));
    assertEquals(0, mem.refcount(pfn));
  }

  @Test
  void aBlockableInvalidationMayNotBeRefused() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 4 * 4096, RW, VmaKind.ANON);
    MmuNotifier busy = Mockito.mock(MmuNotifier.class);
    Mockito.when(busy.invalidateRangeStart(Mockito.any())).thenReturn(-Errno.EAGAIN);
    mm.registerNotifier(busy);
    assertThrows(IllegalStateException.class, () -> mm.munmap(BASE, 4096));
  }

  @Test
  void aPmdMappedThpMigratesWhole() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long thp = 0x4000_0000L;
    mm.mmap(thp, 2L << 20, RW, VmaKind.ANON_THP);
    mm.userWrite(thp + 8192);
    long head = HostPte.pfn(mm.hostPte(thp));
    RecordingNotifier rec = new RecordingNotifier(thp);
    mm.registerNotifier(rec);
    MigrationHandle h = mem.migrateStart(head + 3);
    assertEquals(head, h.oldPfn());
    assertEquals(HostPageSize.SIZE_4K.pmdOrder(), h.order());
    assertEquals("start CLEAR 0x40000000-0x40200000", rec.events.get(0));
    assertTrue(HostPte.isMigration(mm.hostPte(thp + 4096)));
    assertEquals(HostPte.LEVEL_PMD, HostPte.level(mm.hostPte(thp + 4096)));
    assertEquals(1, mm.hostMappingLevel(thp), "a migration entry is not present");
    assertEquals(0, mem.migrateFinish(h));
    long now = HostPte.pfn(mm.hostPte(thp));
    assertNotEquals(head, now);
    assertEquals(2, mm.hostMappingLevel(thp + 4096));
    assertEquals(HostPageSize.SIZE_4K.pmdOrder(), mem.folioOrder(now));
    assertEquals(0, mem.refcount(head));
  }

  @Test
  void numaHintingEntriesAreFollowedOrFaultedAsFollHonorNumaFaultSays() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 4 * 4096, RW, VmaKind.ANON);
    mm.userWrite(BASE);
    mm.userRead(BASE + 4096);
    long pfn = HostPte.pfn(mm.hostPte(BASE));
    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);

    assertEquals(1, mm.changeProtNuma(BASE, BASE + 4 * 4096), "the zero page is skipped");
    assertEquals(List.of("start PROTECTION_VMA 0x60000000-0x60004000",
        "end PROTECTION_VMA 0x60000000-0x60004000"), rec.events);
    long e = mm.hostPte(BASE);
    assertTrue(HostPte.isProtNone(e));
    assertTrue(HostPte.isWritable(e), "the write permission is saved");
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, FollFlags.FOLL_WRITE));

    assertEquals(pfn, mm.getUserPages(BASE, FollFlags.FOLL_WRITE));
    assertTrue(HostPte.isProtNone(mm.hostPte(BASE)), "followed without a hinting fault");
    mem.putPage(pfn);

    assertEquals(pfn, mm.getUserPages(BASE,
        FollFlags.FOLL_WRITE | FollFlags.FOLL_HONOR_NUMA_FAULT));
    e = mm.hostPte(BASE);
    assertTrue(HostPte.isPresent(e) && HostPte.isWritable(e) && HostPte.isYoung(e));
    mem.putPage(pfn);

    mm.changeProtNuma(BASE, BASE + 4096);
    assertEquals(1, mm.hostMappingLevel(BASE));
    assertEquals(0, mm.userRead(BASE));
    assertTrue(HostPte.isPresent(mm.hostPte(BASE)), "the CPU's access took the hinting fault");
  }
}
