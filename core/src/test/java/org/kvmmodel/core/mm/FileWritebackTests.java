package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class FileWritebackTests {

  private static final long BASE = 0x5000_0000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  @Test
  void readFaultMapsReadOnlyCleanAndTheFirstWriteRunsPageMkwrite() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(64);
    MmStruct mm = new MmStruct(mem);
    assertEquals(BASE, mm.mmapFile(BASE, 64 * 4096, RW, file, 0));
    assertEquals(0, mm.userRead(BASE));
    assertEquals(1, file.readIoCount(), "not cached: one read from the backing store");
    long e = mm.hostPte(BASE);
    assertFalse(HostPte.isWritable(e));
    assertFalse(HostPte.isDirty(e));
    long pfn = HostPte.pfn(e);
    assertFalse(mem.isDirty(pfn));
    assertEquals(2, mem.refcount(pfn), "page cache plus the mapping");
    assertEquals(file.mappingId(), mem.folioMappingId(pfn));
    assertEquals(0, mem.folioIndex(pfn));
    assertEquals(-1, file.cachedPfn(5));
    assertEquals(0, mm.userRead(BASE + 5 * 4096));
    assertEquals(5, mem.folioIndex(file.cachedPfn(5)));

    assertEquals(0, mm.userWrite(BASE));
    e = mm.hostPte(BASE);
    assertTrue(HostPte.isWritable(e) && HostPte.isDirty(e));
    assertTrue(mem.isDirty(pfn), "page_mkwrite marked the folio dirty");
    assertEquals(2, file.readIoCount());
  }

  @Test
  void writebackCleansTheEntryInsideAProtectionPageInvalidation() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(64);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 64 * 4096, RW, file, 0);
    long addr = BASE + 3 * 4096;
    assertEquals(0, mm.userWrite(addr));
    long pfn = file.cachedPfn(3);
    mem.setPageDirty(pfn);
    mem.markPageAccessed(pfn);
    RecordingNotifier rec = new RecordingNotifier(addr);
    mm.registerNotifier(rec);

    assertTrue(mem.writeback(file, 3));

    assertEquals(List.of("start PROTECTION_PAGE 0x50003000-0x50004000",
        "end PROTECTION_PAGE 0x50003000-0x50004000"), rec.events);
    long atStart = rec.pteAtStart.get(0);
    assertTrue(HostPte.isWritable(atStart) && HostPte.isDirty(atStart),
        "the entry changes only after start");
    long atEnd = rec.pteAtEnd.get(0);
    assertFalse(HostPte.isWritable(atEnd) || HostPte.isDirty(atEnd));
    assertTrue(rec.flushesAtEnd.get(0) > rec.flushesAtStart.get(0), "TLB flushed before end");
    long e = mm.hostPte(addr);
    assertFalse(HostPte.isWritable(e));
    assertFalse(HostPte.isDirty(e));
    assertFalse(mem.isDirty(pfn));
    assertTrue(mem.isWriteback(pfn));
    assertEquals(1, file.writebackCount());

    assertFalse(mem.writeback(file, 3), "already under writeback");
    mem.endWriteback(file, 3);
    assertFalse(mem.isWriteback(pfn));
    assertThrows(IllegalStateException.class, () -> mem.endWriteback(file, 3));
    assertFalse(mem.writeback(file, 3), "clean: nothing to write");

    assertEquals(0, mm.userWrite(addr));
    assertTrue(mem.isDirty(pfn), "the next write goes through page_mkwrite again");
    assertTrue(HostPte.isWritable(mm.hostPte(addr)));
    assertTrue(mem.writeback(file, 3));
  }

  @Test
  void writebackNotifiesEveryVmaMappingTheIndexEvenWithoutAnEntry() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(16);
    MmStruct a = new MmStruct(mem);
    MmStruct b = new MmStruct(mem);
    a.mmapFile(BASE, 16 * 4096, RW, file, 0);
    b.mmapFile(BASE + 0x10_0000, 8 * 4096, RW, file, 8);
    a.userWrite(BASE + 9 * 4096);
    RecordingNotifier ra = new RecordingNotifier(BASE + 9 * 4096);
    RecordingNotifier rb = new RecordingNotifier(BASE + 0x10_1000);
    a.registerNotifier(ra);
    b.registerNotifier(rb);
    assertTrue(mem.writeback(file, 9));
    assertEquals(2, ra.events.size());
    assertEquals("start PROTECTION_PAGE 0x50101000-0x50102000", rb.events.get(0));
  }

  @Test
  void munmapMovesPteDirtyIntoTheFolioInsideUnmap() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(16);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 16 * 4096, RW, file, 0);
    assertEquals(0, mm.userWrite(BASE + 4096));
    long pfn = file.cachedPfn(1);
    assertTrue(mem.writeback(file, 1));
    mem.endWriteback(file, 1);
    assertEquals(0, mm.userWrite(BASE + 4096));
    assertTrue(mem.clearFolioFlag(pfn, HostMemory.PG_DIRTY), "set by page_mkwrite");
    assertTrue(HostPte.isDirty(mm.hostPte(BASE + 4096)));
    RecordingNotifier rec = new RecordingNotifier(BASE + 4096);
    mm.registerNotifier(rec);

    assertEquals(0, mm.munmap(BASE, 16 * 4096));

    assertEquals(List.of("start UNMAP 0x50000000-0x50010000", "end UNMAP 0x50000000-0x50010000"),
        rec.events);
    assertTrue(HostPte.isPresent(rec.pteAtStart.get(0)));
    assertEquals(0, rec.pteAtEnd.get(0));
    assertTrue(mem.isDirty(pfn), "zap_pte_range moved the PTE's dirty bit");
    assertEquals(0, mem.mapcount(pfn));
    assertEquals(1, mem.refcount(pfn), "only the page cache holds it");
    assertEquals(0, mm.pteTableCount(), "page tables freed");
    assertTrue(mm.vmas().isEmpty());
  }

  @Test
  void getUserPagesWithNowaitNeedsIoAndWithoutReadsThePage() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(16);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 16 * 4096, RW, file, 0);
    assertEquals(-Errno.EAGAIN, mm.getUserPages(BASE, FollFlags.FOLL_NOWAIT));
    assertEquals(0, file.readIoCount());
    mm.setSignalPending(true);
    assertEquals(-Errno.EINTR, mm.getUserPages(BASE, FollFlags.FOLL_INTERRUPTIBLE));
    mm.setSignalPending(false);
    long pfn = mm.getUserPages(BASE, FollFlags.FOLL_WRITE | FollFlags.FOLL_HWPOISON);
    assertEquals(file.cachedPfn(0), pfn);
    assertTrue(mem.isDirty(pfn), "write GUP ran page_mkwrite");
    assertEquals(3, mem.refcount(pfn), "cache, mapping and the GUP reference");
    assertEquals(pfn, mm.getUserPagesFastOnly(BASE, FollFlags.FOLL_WRITE));
    mem.putPage(pfn);
    mem.putPage(pfn);
    assertEquals(2, mem.refcount(pfn));
  }

  @Test
  void aWritableEntryAloneMakesWritebackFindTheFolioDirty() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    HostFile file = mem.createFile(4);
    MmStruct mm = new MmStruct(mem);
    mm.mmapFile(BASE, 4 * 4096, RW, file, 0);
    assertEquals(0, mm.userWrite(BASE));
    long pfn = file.cachedPfn(0);
    assertTrue(mem.clearFolioFlag(pfn, HostMemory.PG_DIRTY));
    assertTrue(mem.writeback(file, 0), "folio_mkclean cleaned an entry, so the folio is dirty");
    assertFalse(mem.isDirty(pfn));
    assertTrue(mem.isWriteback(pfn));
  }
}
