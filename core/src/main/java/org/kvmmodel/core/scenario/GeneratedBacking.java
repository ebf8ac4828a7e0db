package org.kvmmodel.core.scenario;

import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * What a generated memslot's host memory is, and how the VMM maps it: the backings KVM's
 * selftests give their slots ({@code vm_mem_backing_src_type}) plus the host states KVM must
 * cope with under them (the shared zero page, pages copy-on-write shared with a forked child).
 * The first constant is the simplest, which is where a shrunk failure ends up.
 */
enum GeneratedBacking {
  /** Private anonymous memory, some of it touched by the VMM first. */
  ANON,
  /** Anonymous memory the VMM only read: untouched pages map the shared zero page. */
  ZERO_PAGE,
  /** Anonymous memory written by the VMM, then shared copy-on-write with a forked child. */
  COW_AFTER_FORK,
  /** Transparent huge pages. */
  THP,
  /** hugetlbfs of the host's PMD size. */
  HUGETLB,
  /** A {@code MAP_SHARED} mapping of a regular file, which writeback cleans. */
  FILE_SHARED,
  /** {@code VM_PFNMAP} IO memory the host maps writable. */
  PFNMAP,
  /** {@code VM_PFNMAP} IO memory the host maps read-only. */
  PFNMAP_READ_ONLY,
  /** ZONE_DEVICE memory (a device-DAX mapping: struct pages, never on the LRU). */
  ZONE_DEVICE;

  /** Whether KVM may refuse a slot over this memory with -EINVAL (an MTE VM without VM_MTE_ALLOWED). */
  boolean mayBeRefused() {
    return this == FILE_SHARED || this == PFNMAP || this == PFNMAP_READ_ONLY || this == ZONE_DEVICE;
  }

  /** Whether the memory is IO frames mapped with {@code remap_pfn_range}. */
  boolean pfnmap() {
    return this == PFNMAP || this == PFNMAP_READ_ONLY;
  }

  /** Whether the slot's size must be whole host PMDs. */
  boolean wholeHugePages() {
    return this == HUGETLB;
  }

  /**
   * Maps {@code bytes} at {@code hva} in {@code vmm}: IO memory from {@code ioPfn}, a shared
   * file mapping of {@code file} from its start.
   *
   * @return the mapped address or a negative errno, as {@code mmap} does
   */
  long map(MmStruct vmm, long hva, long bytes, long ioPfn, HostFile file) {
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    switch (this) {
      case THP:
        return vmm.mmap(hva, bytes, rw, VmaKind.ANON_THP);
      case HUGETLB:
        return vmm.mmap(hva, bytes, rw, VmaKind.HUGETLB_PMD);
      case FILE_SHARED:
        return vmm.mmapFile(hva, bytes, rw, file, 0);
      case PFNMAP:
        return vmm.mmapPfn(hva, bytes, rw, ioPfn);
      case PFNMAP_READ_ONLY:
        return vmm.mmapPfn(hva, bytes, Vma.VM_READ, ioPfn);
      case ZONE_DEVICE:
        return vmm.mmap(hva, bytes, rw, VmaKind.ZONE_DEVICE);
      default:
        return vmm.mmap(hva, bytes, rw, VmaKind.ANON);
    }
  }
}
