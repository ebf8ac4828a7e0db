/**
 * The host side of Linux memory management as KVM sees it: physical frames and folios
 * ({@link org.kvmmodel.core.mm.HostMemory}), address spaces with VMAs and stage-1 page
 * tables ({@link org.kvmmodel.core.mm.MmStruct}), the page cache
 * ({@link org.kvmmodel.core.mm.HostFile}), get_user_pages, and the mmu_notifier
 * invalidations host operations raise ({@link org.kvmmodel.core.mm.MmuNotifier}).
 *
 * <p>Where the invalidations come from, and what changes between start and end:
 * <ul>
 *   <li>munmap, exit: UNMAP over the range; entries cleared, a dirty or young entry of a file
 *       folio moves into the folio; references dropped after the TLB flush that follows the
 *       end (tlb_finish_mmu). Exit calls {@code release} first, so its UNMAP reaches nobody;
 *   <li>madvise(DONTNEED): CLEAR per VMA, otherwise as munmap; the OOM reaper: a
 *       non-blockable UNMAP per private VMA;
 *   <li>mprotect: PROTECTION_VMA per VMA with page tables in the range; NUMA balancing's
 *       change_prot_numa: PROTECTION_VMA, entries become PROT_NONE hinting entries;
 *   <li>fork: PROTECTION_PAGE on the parent per copy-on-write VMA, write-protecting it;
 *   <li>COW break (wp_page_copy, hugetlb_wp), THP PMD split and collapse: CLEAR;
 *   <li>writeback (page_mkclean): PROTECTION_PAGE per shared VMA over the page, entry
 *       write-protected and cleaned and flushed before the end;
 *   <li>reclaim (try_to_unmap), migration (try_to_migrate), memory_failure: CLEAR per
 *       mapping, flushed before the end; aging calls clear_flush_young per mapping.
 * </ul>
 *
 * <p>Footprint by construction: 20 bytes of metadata per frame with struct page (8 for
 * refcount, pincount and mapcount; 4 for flags, order and allocation generation; 8 for
 * mapping and index) plus one bit of free bitmap; 8 bytes per 4 KiB host entry in
 * {@code long[512]} PTE tables, plus about 0.06 bytes per entry of upper-level tables.
 */
package org.kvmmodel.core.mm;
