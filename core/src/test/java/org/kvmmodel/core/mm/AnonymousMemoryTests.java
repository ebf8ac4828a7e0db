package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;

class AnonymousMemoryTests {

  private static final long BASE = 0x7f00_0000_0000L;
  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  @Test
  void readMapsTheZeroPageThenWriteCopiesIt() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    assertEquals(BASE, mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON));
    long zero = mem.zeroPfn();
    int zeroRefs = mem.refcount(zero);

    assertEquals(0, mm.userRead(BASE));
    long e = mm.hostPte(BASE);
    assertEquals(zero, HostPte.pfn(e));
    assertFalse(HostPte.isWritable(e));
    assertTrue(HostPte.isSpecial(e));
    assertTrue(HostPte.isYoung(e), "the CPU set the accessed bit");
    assertEquals(zeroRefs, mem.refcount(zero), "zero-page mappings take no reference");
    assertEquals(0, mem.mapcount(zero));

    RecordingNotifier rec = new RecordingNotifier(BASE);
    mm.registerNotifier(rec);
    assertEquals(0, mm.userWrite(BASE));
    long after = mm.hostPte(BASE);
    long pfn = HostPte.pfn(after);
    assertNotEquals(zero, pfn);
    assertTrue(HostPte.isWritable(after) && HostPte.isDirty(after));
    assertEquals(1, mem.refcount(pfn));
    assertEquals(1, mem.mapcount(pfn));
    assertTrue(mem.isAnon(pfn) && mem.isAnonExclusive(pfn));
    assertEquals(zeroRefs, mem.refcount(zero));
    assertEquals(List.of("start CLEAR 0x7f0000000000-0x7f0000001000",
        "end CLEAR 0x7f0000000000-0x7f0000001000"), rec.events, "wp_page_copy invalidates");
    assertEquals(zero, HostPte.pfn(rec.pteAtStart.get(0)));
    assertEquals(pfn, HostPte.pfn(rec.pteAtEnd.get(0)));
  }

  @Test
  void slowGupOfTheZeroPageReferencesItAndPinDoesNot() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    int zeroRefs = mem.refcount(mem.zeroPfn());
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, 0));
    assertEquals(mem.zeroPfn(), mm.getUserPages(BASE, 0));
    assertEquals(zeroRefs + 1, mem.refcount(mem.zeroPfn()));
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(BASE, 0),
        "gup_fast refuses special entries");
    mem.putPage(mem.zeroPfn());
    long pinned = mm.getUserPages(BASE + 4096, FollFlags.FOLL_PIN);
    assertEquals(mem.zeroPfn(), pinned);
    assertEquals(0, mem.pincount(pinned));
    assertEquals(zeroRefs, mem.refcount(mem.zeroPfn()));
  }

  @Test
  void forkWriteProtectsBothAndTheChildsWriteCopies() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct parent = new MmStruct(mem);
    parent.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    assertEquals(0, parent.userWrite(BASE));
    long pfn = HostPte.pfn(parent.hostPte(BASE));
    RecordingNotifier rec = new RecordingNotifier(BASE);
    parent.registerNotifier(rec);

    MmStruct child = parent.fork();

    assertEquals("start PROTECTION_PAGE 0x7f0000000000-0x7f0000100000", rec.events.get(0));
    assertEquals("end PROTECTION_PAGE 0x7f0000000000-0x7f0000100000", rec.events.get(1));
    assertTrue(HostPte.isWritable(rec.pteAtStart.get(0)), "still writable at start");
    assertFalse(HostPte.isWritable(rec.pteAtEnd.get(0)), "write-protected before end");
    assertTrue(rec.flushesAtEnd.get(0) > rec.flushesAtStart.get(0), "flushed before end");
    assertFalse(HostPte.isWritable(parent.hostPte(BASE)));
    assertFalse(HostPte.isWritable(child.hostPte(BASE)));
    assertFalse(HostPte.isYoung(child.hostPte(BASE)), "child entries start old");
    assertEquals(pfn, HostPte.pfn(child.hostPte(BASE)));
    assertEquals(2, mem.mapcount(pfn));
    assertEquals(2, mem.refcount(pfn));
    assertFalse(mem.isAnonExclusive(pfn));

    assertEquals(0, child.userWrite(BASE));
    long copy = HostPte.pfn(child.hostPte(BASE));
    assertNotEquals(pfn, copy);
    assertTrue(HostPte.isWritable(child.hostPte(BASE)));
    assertEquals(1, mem.mapcount(pfn));
    assertEquals(1, mem.refcount(pfn));
    assertEquals(1, mem.mapcount(copy));

    assertEquals(0, parent.userWrite(BASE));
    assertEquals(pfn, HostPte.pfn(parent.hostPte(BASE)), "the parent, sole user, reuses it");
    assertTrue(HostPte.isWritable(parent.hostPte(BASE)));
  }

  @Test
  void forkCopiesAPinnedPageForTheChildAtOnce() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct parent = new MmStruct(mem);
    parent.mmap(BASE, 1 << 20, RW, VmaKind.ANON);
    long pfn = parent.getUserPages(BASE, FollFlags.FOLL_PIN | FollFlags.FOLL_WRITE);
    assertEquals(1, mem.pincount(pfn));
    assertEquals(2, mem.refcount(pfn));
    MmStruct child = parent.fork();
    assertTrue(HostPte.isWritable(parent.hostPte(BASE)), "the pinned page stays writable");
    assertNotEquals(pfn, HostPte.pfn(child.hostPte(BASE)));
    assertEquals(1, mem.mapcount(pfn));
    mem.unpinUserPage(pfn);
    assertEquals(1, mem.refcount(pfn));
  }

  @Test
  void thpAndHugetlbHostMappingLevels() {
    HostMemory mem = new HostMemory((1 << 18) * 2 + 4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long thp = 0x4000_0000L;
    mm.mmap(thp, 4L << 20, RW, VmaKind.ANON_THP);
    long odd = 0x8000_0000L;
    mm.mmap(odd, 3L << 20, RW, VmaKind.ANON_THP);
    long h2 = 0x1_0000_0000L;
    mm.mmap(h2, 2L << 20, RW, VmaKind.HUGETLB_PMD);
    long h1 = 0x40_0000_0000L;
    mm.mmap(h1, 1L << 30, RW, VmaKind.HUGETLB_PUD);

    assertEquals(0, mm.userWrite(thp + 0x1234));
    assertEquals(2, mm.hostMappingLevel(thp + 0x1ff000));
    long head = HostPte.pfn(mm.hostPte(thp));
    assertEquals(HostPageSize.SIZE_4K.pmdOrder(), mem.folioOrder(head));
    assertEquals(head + 5, mm.getUserPagesFastOnly(thp + 5 * 4096, FollFlags.FOLL_WRITE));
    assertEquals(2, mem.refcount(head + 5), "a tail page reference counts on the folio");
    mem.putPage(head + 5);

    assertEquals(0, mm.userWrite(odd + (2L << 20) + 4096));
    assertEquals(1, mm.hostMappingLevel(odd + (2L << 20) + 4096),
        "the last 1 MiB cannot hold a 2 MiB folio");

    assertEquals(0, mm.userRead(h2 + 4096));
    assertEquals(2, mm.hostMappingLevel(h2));
    assertFalse(HostPte.isWritable(mm.hostPte(h2)), "hugetlb read fault maps read-only");
    assertEquals(0, mm.userWrite(h2));
    assertTrue(HostPte.isWritable(mm.hostPte(h2)), "exclusive hugetlb folio reused");

    assertEquals(0, mm.userWrite(h1 + (5L << 20)));
    assertEquals(3, mm.hostMappingLevel(h1 + 12345));
    assertEquals(HostPageSize.SIZE_4K.pudOrder(), mem.folioOrder(HostPte.pfn(mm.hostPte(h1))));
    assertEquals(1, mm.hostMappingLevel(0x9999_0000_0000L), "unmapped is 4 KiB");
  }

  @Test
  void thpCopyOnWriteAfterForkSplitsThePmd() {
    HostMemory mem = new HostMemory(8192, 0, 0);
    MmStruct parent = new MmStruct(mem);
    long thp = 0x4000_0000L;
    parent.mmap(thp, 2L << 20, RW, VmaKind.ANON_THP);
    parent.userWrite(thp);
    long head = HostPte.pfn(parent.hostPte(thp));
    MmStruct child = parent.fork();
    assertEquals(2, mem.mapcount(head));
    assertEquals(0, child.userWrite(thp + 4096));
    assertEquals(1, child.hostMappingLevel(thp), "the child's PMD was split");
    assertEquals(2, parent.hostMappingLevel(thp));
    assertEquals(1 + 511, mem.mapcount(head), "parent PMD plus 511 child PTEs");
    assertNotEquals(head + 1, HostPte.pfn(child.hostPte(thp + 4096)));
  }

  @Test
  void mmapRefusesOverlapsAndMisalignedHugetlb() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    assertEquals(BASE, mm.mmap(BASE, 1 << 20, RW, VmaKind.ANON));
    assertEquals(-Errno.EEXIST, mm.mmap(BASE + 4096, 4096, RW, VmaKind.ANON));
    assertEquals(-Errno.EINVAL, mm.mmap(BASE + 123, 4096, RW, VmaKind.ANON));
    assertEquals(-Errno.EINVAL, mm.mmap(0x4000_0000L, 4096, RW, VmaKind.HUGETLB_PMD));
    assertEquals(-Errno.EINVAL, mm.mmap(0x4000_0000L, 4096, RW, VmaKind.PFNMAP));
    long h = 0x8000_0000L;
    assertEquals(h, mm.mmap(h, 4L << 20, RW, VmaKind.HUGETLB_PMD));
    assertEquals(-Errno.EINVAL, mm.munmap(h + 4096, 4096), "hugetlb unmaps whole pages");
    assertEquals("EEXIST", Errno.name(-Errno.EEXIST));
  }

  @Test
  void pageTablesCostEightBytesPerEntryAndAreFreedOnMunmap() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long region = 0x4000_0000L;
    mm.mmap(region, 4L << 20, RW, VmaKind.ANON);
    for (long a = region; a < region + (2L << 20); a += 4096) {
      assertEquals(0, mm.userWrite(a));
    }
    assertEquals(1, mm.pteTableCount(), "512 entries share one long[512]");
    mm.userRead(region + (3L << 20));
    assertEquals(2, mm.pteTableCount());
    assertEquals(0, mm.munmap(region, 2L << 20));
    assertEquals(1, mm.pteTableCount());
    assertEquals(4096 - 1, mem.freePages(), "all 512 folios freed; the zero page stays");
  }

  @Test
  void partialMunmapOfAThpSplitsItAndKeepsTheRest() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long thp = 0x4000_0000L;
    mm.mmap(thp, 2L << 20, RW, VmaKind.ANON_THP);
    mm.userWrite(thp);
    long head = HostPte.pfn(mm.hostPte(thp));
    RecordingNotifier rec = new RecordingNotifier(thp);
    mm.registerNotifier(rec);
    assertEquals(0, mm.munmap(thp + (1L << 20), 1L << 20));
    assertEquals(List.of("start CLEAR 0x40000000-0x40200000", "end CLEAR 0x40000000-0x40200000",
        "start UNMAP 0x40100000-0x40200000", "end UNMAP 0x40100000-0x40200000"), rec.events,
        "the VMA split splits the PMD before the unmap");
    assertEquals(1, mm.hostMappingLevel(thp));
    assertEquals(head + 1, HostPte.pfn(mm.hostPte(thp + 4096)),
        HostPte.describe(mm.hostPte(thp + 4096)));
    assertEquals(256, mem.mapcount(head));
    assertEquals(256, mem.refcount(head));
    assertEquals(0, mm.hostPte(thp + (1L << 20)));
    assertEquals(1, mm.vmas().size(), "one VMA left");

    rec.events.clear();
    assertEquals(0, mm.madviseDontneed(thp + 4096, 4096));
    assertEquals(0, mm.hostPte(thp + 4096));
    assertEquals(255, mem.mapcount(head));
  }

  @Test
  void splitHugePmdSpreadsTheFolioOverPtesInsideClear() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long thp = 0x4000_0000L;
    mm.mmap(thp, 2L << 20, RW, VmaKind.ANON_THP);
    mm.userWrite(thp);
    long head = HostPte.pfn(mm.hostPte(thp));
    RecordingNotifier rec = new RecordingNotifier(thp + 4096);
    mm.registerNotifier(rec);
    assertTrue(mm.splitHugePmdAddress(thp + 4096));
    assertEquals(List.of("start CLEAR 0x40000000-0x40200000", "end CLEAR 0x40000000-0x40200000"),
        rec.events);
    assertEquals(HostPte.LEVEL_PMD, HostPte.level(rec.pteAtStart.get(0)));
    assertEquals(HostPte.LEVEL_PTE, HostPte.level(rec.pteAtEnd.get(0)));
    assertEquals(512, mem.mapcount(head));
    assertEquals(512, mem.refcount(head));
    assertTrue(HostPte.isWritable(mm.hostPte(thp + 4096 * 511)));
    assertFalse(mm.splitHugePmdAddress(thp), "already split");
    assertEquals(0, mm.munmap(thp, 2L << 20));
    assertEquals(0, mem.refcount(head));
  }

  @Test
  void collapseReplacesSmallPagesByAPmdAfterTheInvalidation() {
    HostMemory mem = new HostMemory(2048, 0, 0);
    long[] held = new long[3];
    for (int i = 0; i < held.length; i++) {
      held[i] = mem.allocFolio(HostPageSize.SIZE_4K.pmdOrder(), 0);
      assertTrue(held[i] >= 0);
    }
    MmStruct mm = new MmStruct(mem);
    long thp = 0x4000_0000L;
    mm.mmap(thp, 2L << 20, RW, VmaKind.ANON_THP);
    assertEquals(0, mm.userWrite(thp));
    assertEquals(0, mm.userWrite(thp + 4096));
    assertEquals(0, mm.userRead(thp + 8192));
    assertEquals(1, mm.hostMappingLevel(thp), "no free 2 MiB run: 4 KiB fallback");
    long small = HostPte.pfn(mm.hostPte(thp));
    for (long h : held) {
      mem.putPage(h);
    }
    long gup = mm.getUserPages(thp + 4096, FollFlags.FOLL_WRITE);
    assertEquals(-Errno.EBUSY, mm.collapseHugePage(thp), "an extra reference blocks it");
    mem.putPage(gup);
    RecordingNotifier rec = new RecordingNotifier(thp);
    mm.registerNotifier(rec);

    assertEquals(0, mm.collapseHugePage(thp + 12345));

    assertEquals(List.of("start CLEAR 0x40000000-0x40200000", "end CLEAR 0x40000000-0x40200000"),
        rec.events);
    assertTrue(HostPte.isPresent(rec.pteAtStart.get(0)));
    assertEquals(0, rec.pteAtEnd.get(0), "cleared and flushed before the end");
    assertEquals(2, mm.hostMappingLevel(thp + 8192));
    assertEquals(0, mem.refcount(small));
    long head = HostPte.pfn(mm.hostPte(thp));
    assertEquals(1, mem.mapcount(head));
    assertEquals(HostPageSize.SIZE_4K.pmdOrder(), mem.folioOrder(head));
    assertEquals(-Errno.EBUSY, mm.collapseHugePage(thp), "already a PMD");
  }

  @Test
  void tablesAcrossGigabyteAndTerabyteBoundariesAreFreed() {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    long start = (1L << 39) - (4L << 20);
    long length = 8L << 20;
    mm.mmap(start, length, RW, VmaKind.ANON);
    for (long a = start; a < start + length; a += 1L << 20) {
      assertEquals(0, mm.userWrite(a));
    }
    assertEquals(4, mm.pteTableCount());
    assertEquals(0, mm.munmap(start + (1L << 20), 6L << 20));
    assertEquals(2, mm.pteTableCount(), "tables of the first and last 2 MiB still hold entries");
    assertEquals(0, mm.munmap(start, length));
    assertEquals(0, mm.pteTableCount());
    assertEquals(4095, mem.freePages());
  }
}
