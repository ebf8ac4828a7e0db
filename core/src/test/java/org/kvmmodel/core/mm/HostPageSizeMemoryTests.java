package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.kvmmodel.api.kvm.HostPageSize;

/**
 * The host memory model on 16 KiB and 64 KiB pages, as arm64 builds them: one frame per page,
 * PMD-sized THP and hugetlbfs folios of 32 MiB and 512 MiB, no PUD-sized hugetlb, and page
 * tables whose levels resolve {@code PAGE_SHIFT - 3} bits each.
 */
class HostPageSizeMemoryTests {

  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  private static HostMemory host(HostPageSize size, int pmdFolios) {
    return new HostMemory(((long) pmdFolios << size.pmdOrder()) + 64, 0, 16, size);
  }

  @ParameterizedTest
  @EnumSource(value = HostPageSize.class, names = {"SIZE_16K", "SIZE_64K"})
  void geometryFollowsTheGranule(HostPageSize size) {
    boolean k16 = size == HostPageSize.SIZE_16K;
    assertEquals(k16 ? 14 : 16, size.shift());
    assertEquals(k16 ? 32L << 20 : 512L << 20, size.pmdSize());
    assertEquals(k16 ? 4 : 3, size.levels());
    assertEquals(k16 ? 36 : 42, size.pudShift(), "a 64 KiB host folds its PUD into the PGD");
    assertEquals(k16 ? 47 : 42, size.pgdShift());
  }

  @ParameterizedTest
  @EnumSource(value = HostPageSize.class, names = {"SIZE_16K", "SIZE_64K"})
  void smallPagesAreOneFramePerPage(HostPageSize size) {
    HostMemory mem = host(size, 1);
    MmStruct mm = new MmStruct(mem);
    long base = 0x10_0000_0000L;
    long page = size.bytes();
    assertEquals(base, mm.mmap(base, 4 * page, RW, VmaKind.ANON));
    assertEquals(-Errno.EINVAL, mm.mmap(base + 8 * page + 4096, page, RW, VmaKind.ANON),
        "a 4 KiB-aligned address is not page aligned");
    assertEquals(0, mm.userWrite(base + page + 100));
    assertEquals(0, mm.userWrite(base + 2 * page - 8));
    long pte = mm.hostPte(base + page);
    assertEquals(HostPte.LEVEL_PTE, HostPte.level(pte));
    assertEquals(HostPte.pfn(pte), HostPte.pfn(mm.hostPte(base + 2 * page - 1)),
        "every byte of the page is one frame");
    assertEquals(size.shift(), mm.hostMappingShift(base + page));
    assertEquals(0, mm.userWrite(base + 2 * page));
    assertNotEquals(HostPte.pfn(pte), HostPte.pfn(mm.hostPte(base + 2 * page)));
    assertEquals(0, mm.madviseDontneed(base + page, page));
    assertEquals(0, mm.hostPte(base + page));
  }

  @ParameterizedTest
  @EnumSource(value = HostPageSize.class, names = {"SIZE_16K", "SIZE_64K"})
  void thpIsPmdSizedAndSplitsIntoOnePtePerPage(HostPageSize size) {
    HostMemory mem = host(size, 2);
    MmStruct mm = new MmStruct(mem);
    long pmd = size.pmdSize();
    long base = 4 * pmd;
    assertEquals(base, mm.mmap(base, pmd, RW, VmaKind.ANON_THP));
    assertEquals(0, mm.userWrite(base + 3 * size.bytes() + 5));
    assertEquals(HostPte.LEVEL_PMD, mm.hostMappingLevel(base + pmd - 1));
    assertEquals(size.pmdShift(), mm.hostMappingShift(base));
    long head = HostPte.pfn(mm.hostPte(base));
    assertEquals(size.pmdOrder(), mem.folioOrder(head));
    assertEquals(head + 7, mm.getUserPagesFastOnly(base + 7 * size.bytes(), FollFlags.FOLL_WRITE));
    mem.putPage(head + 7);

    assertTrue(mm.splitHugePmdAddress(base + size.bytes()));
    long last = base + pmd - size.bytes();
    assertEquals(HostPte.LEVEL_PTE, HostPte.level(mm.hostPte(last)));
    assertEquals(head + (1L << size.pmdOrder()) - 1, HostPte.pfn(mm.hostPte(last)));
  }

  @ParameterizedTest
  @EnumSource(value = HostPageSize.class, names = {"SIZE_16K", "SIZE_64K"})
  void hugetlbfsHasOnlyPmdSizedPages(HostPageSize size) {
    long pmd = size.pmdSize();
    MmStruct mm = new MmStruct(host(size, 2));
    assertEquals(-Errno.EINVAL, mm.mmap(pmd / 2, pmd, RW, VmaKind.HUGETLB_PMD),
        "a hugetlbfs mapping is aligned to its huge page");
    assertEquals(-Errno.EINVAL, mm.mmap(1L << 40, 1L << 40, RW, VmaKind.HUGETLB_PUD),
        "no PUD-sized hstate without 4 KiB pages");
    assertEquals(2 * pmd, mm.mmap(2 * pmd, pmd, RW, VmaKind.HUGETLB_PMD));
    assertEquals(0, mm.userWrite(2 * pmd + pmd / 2));
    assertEquals(HostPte.LEVEL_PMD, mm.hostMappingLevel(2 * pmd));
    assertEquals(size.pmdShift(), mm.vmas().get(0).describe().pageShift());
    assertEquals(size.pmdOrder(), mm.memory().folioOrder(HostPte.pfn(mm.hostPte(2 * pmd))));
  }
}
