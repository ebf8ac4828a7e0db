package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.choice.ChoiceStream;

class HostMemoryTests {

  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  @Test
  void putPageUnderflowThrowsNamingThePfn() {
    HostMemory mem = new HostMemory(1024, 0, 0);
    long pfn = mem.allocFolio(0, 0);
    mem.getPage(pfn);
    mem.putPage(pfn);
    mem.putPage(pfn);
    assertEquals(0, mem.refcount(pfn));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> mem.putPage(pfn));
    assertTrue(e.getMessage().contains(String.format("0x%x", pfn)), e.getMessage());
    assertThrows(IllegalStateException.class, () -> mem.getPage(pfn), "folio_get on a free folio");
    assertThrows(IllegalStateException.class, () -> mem.unpinUserPage(mem.zeroPfn() - 1));
  }

  @Test
  void allocationGenerationChangesWhenAFrameIsReused() {
    HostMemory mem = new HostMemory(64, 0, 0);
    long free = mem.freePages();
    long pfn = mem.allocFolio(0, 0);
    int first = mem.allocationGeneration(pfn);
    assertEquals(free - 1, mem.freePages());
    assertEquals(1, mem.allocatedFolios());
    mem.putPage(pfn);
    assertEquals(free, mem.freePages());
    assertEquals(0, mem.allocatedFolios());
    long again = mem.allocFolio(0, 0);
    while (again != pfn && again >= 0) {
      again = mem.allocFolio(0, 0);
    }
    assertEquals(pfn, again);
    assertNotEquals(first, mem.allocationGeneration(pfn));
  }

  @Test
  void pinsCountOnTheFolioWithAReferenceEach() {
    HostMemory mem = new HostMemory(2048, 0, 0);
    long head = mem.allocFolio(HostPageSize.SIZE_4K.pmdOrder(), 0);
    assertEquals(0, head % 512, "a 2 MiB folio is naturally aligned");
    assertEquals(head, mem.folioHead(head + 77));
    mem.pinUserPage(head + 77);
    assertEquals(1, mem.pincount(head));
    assertEquals(2, mem.refcount(head + 3));
    assertTrue(mem.isPinned(head + 100));
    mem.unpinUserPage(head + 77);
    assertEquals(0, mem.pincount(head));
    assertThrows(IllegalStateException.class, () -> mem.unpinUserPage(head));
    long free = mem.freePages();
    mem.putPage(head);
    assertEquals(free + 512, mem.freePages());
  }

  @Test
  void hugeAllocationNeedsAnAlignedFreeRun() {
    HostMemory mem = new HostMemory(1024, 0, 0);
    long a = mem.allocFolio(HostPageSize.SIZE_4K.pmdOrder(), 0);
    assertTrue(a >= 0);
    assertEquals(-1, mem.allocFolio(HostPageSize.SIZE_4K.pmdOrder(), 0),
        "the other 2 MiB block holds the zero page");
    long small = mem.allocFolio(0, 0);
    assertTrue(small >= 512, "order-0 comes from the other block");
    mem.putPage(a);
    assertEquals(a, mem.allocFolio(HostPageSize.SIZE_4K.pmdOrder(), 0));
  }

  @Test
  void flagsAndTheZeroPage() {
    HostMemory mem = new HostMemory(64, 0, 0);
    long zero = mem.zeroPfn();
    assertTrue(mem.isReserved(zero));
    assertTrue(mem.pfnValid(zero));
    long pfn = mem.allocFolio(0, HostMemory.PG_ANON);
    assertFalse(mem.isDirty(pfn));
    assertTrue(mem.setPageDirty(pfn));
    assertFalse(mem.setPageDirty(pfn), "already dirty");
    mem.markPageAccessed(pfn);
    assertTrue(mem.isReferenced(pfn));
    assertTrue(mem.isAnon(pfn));
    mem.putPage(pfn);
    assertFalse(mem.isDirty(pfn), "freeing clears folio flags");
  }

  @Test
  void pfnmapHasNoStructPageAndGupRefusesIt() {
    HostMemory mem = new HostMemory(256, 0, 16);
    MmStruct mm = new MmStruct(mem);
    long io = mem.ioPfnBase() + 4;
    long addr = 0x9000_0000L;
    assertEquals(addr, mm.mmapPfn(addr, 8 * 4096, RW, io));
    assertFalse(mem.pfnValid(io));
    assertThrows(IllegalArgumentException.class, () -> mem.getPage(io));
    assertThrows(IllegalArgumentException.class, () -> mem.putPage(io));
    assertThrows(IllegalArgumentException.class, () -> mem.refcount(io));

    assertEquals(-Errno.EFAULT, mm.getUserPages(addr, 0));
    assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(addr + 4096, 0));
    mm.mmapReadLock();
    try {
      Vma vma = mm.findVma(addr + 4096);
      assertTrue(vma.has(Vma.VM_IO) && vma.has(Vma.VM_PFNMAP));
      assertEquals(null, mm.followPfnmap(addr + 4096), "not populated yet");
      assertEquals(0, mm.fixupUserFault(addr + 4096, true));
      PfnmapEntry pe = mm.followPfnmap(addr + 4096);
      assertNotNull(pe);
      assertEquals(io + 1, pe.pfn());
      assertTrue(pe.writable());
      assertTrue(HostPte.isSpecial(mm.hostPte(addr + 4096)));
      assertEquals(MmStruct.GUP_FAST_FAILED, mm.getUserPagesFastOnly(addr + 4096, 0),
          "special entries are never followed locklessly");
    } finally {
      mm.mmapReadUnlock();
    }
    assertThrows(IllegalStateException.class, () -> mm.followPfnmap(addr),
        "follow_pfnmap requires mmap_lock");
    assertEquals(-Errno.EINVAL, mm.madviseDontneed(addr, 4096));

    long ro = 0xa000_0000L;
    mm.mmapPfn(ro, 4096, Vma.VM_READ, io);
    mm.mmapReadLock();
    try {
      assertEquals(-Errno.EFAULT, mm.fixupUserFault(ro, true));
      assertEquals(0, mm.fixupUserFault(ro, false));
      assertFalse(mm.followPfnmap(ro).writable());
    } finally {
      mm.mmapReadUnlock();
    }
  }

  @Test
  void zoneDevicePagesHaveStructPageAndReturnToTheirPool() {
    HostMemory mem = new HostMemory(256, 8, 0);
    MmStruct mm = new MmStruct(mem);
    long addr = 0xb000_0000L;
    mm.mmap(addr, 4 * 4096, RW, VmaKind.ZONE_DEVICE);
    long pfn = mm.getUserPages(addr, FollFlags.FOLL_WRITE);
    assertTrue(mem.pfnValid(pfn));
    assertTrue(mem.isZoneDevice(pfn));
    assertEquals(7, mem.freeDevicePages());
    assertEquals(ReclaimResult.NOT_RECLAIMABLE, mem.reclaimFolio(pfn));
    mem.putPage(pfn);
    mm.munmap(addr, 4 * 4096);
    assertEquals(8, mem.freeDevicePages());
  }

  @Test
  void victimChoiceReplaysFromTheSameSeed() {
    long[] first = victims(ChoiceStream.seeded(1234));
    long[] second = victims(ChoiceStream.seeded(1234));
    assertEquals(first.length, second.length);
    for (int i = 0; i < first.length; i++) {
      assertEquals(first[i], second[i], "choice " + i);
    }
    ChoiceStream recorded = ChoiceStream.seeded(99);
    long[] original = victims(recorded);
    long[] replayed = victims(ChoiceStream.replay(recorded.recorded()));
    for (int i = 0; i < original.length; i++) {
      assertEquals(original[i], replayed[i], "replayed choice " + i);
    }
  }

  private static long[] victims(ChoiceStream choices) {
    HostMemory mem = new HostMemory(4096, 0, 0);
    MmStruct mm = new MmStruct(mem);
    HostFile file = mem.createFile(32);
    mm.mmap(0x1000_0000L, 64 * 4096, RW, VmaKind.ANON);
    mm.mmapFile(0x2000_0000L, 32 * 4096, RW, file, 0);
    long[] out = new long[24];
    for (int i = 0; i < 8; i++) {
      long addr = Victims.pickAddress(mm, choices);
      out[3 * i] = addr;
      mm.userWrite(addr);
      out[3 * i + 1] = Victims.pickLruFolio(mem, choices);
      out[3 * i + 2] = Victims.pickCachedPage(file, choices);
      if (out[3 * i + 1] >= 0) {
        mm.clearYoungNotify(0, 1L << 40);
        mem.reclaimFolio(out[3 * i + 1]);
      }
    }
    return out;
  }
}
