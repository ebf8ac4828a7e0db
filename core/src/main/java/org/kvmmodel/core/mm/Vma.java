package org.kvmmodel.core.mm;

import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.HostVma;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A virtual memory area: {@code struct vm_area_struct}. {@code [start, end)} with flags, a
 * kind (what backs it) and {@code pgoff}: the page offset of {@code start} in the backing
 * object (the file, the IO pfn for PFNMAP, {@code start >> PAGE_SHIFT} for anonymous memory).
 * Fields change only with the owning mm's {@code mmap_lock} held for write.
 */
public final class Vma {

  /** Readable. */
  public static final int VM_READ = 0x1;
  /** Writable. */
  public static final int VM_WRITE = 0x2;
  /** Shared mapping (not copy-on-write). */
  public static final int VM_SHARED = 0x8;
  /** Memory-mapped IO. */
  public static final int VM_IO = 0x4000;
  /** Maps raw pfns: no struct page is to be touched (remap_pfn_range, vmf_insert_pfn). */
  public static final int VM_PFNMAP = 0x400;
  /** Mixes struct-page and raw-pfn mappings (vmf_insert_mixed). */
  public static final int VM_MIXEDMAP = 0x10000000;
  /** hugetlbfs mapping. */
  public static final int VM_HUGETLB = 0x400000;
  /**
   * Any non-cacheable memory type is safe on this mapping (bit 39 on 64-bit): set by a
   * driver's mmap, vfio-pci's on BARs, for KVM to read.
   */
  public static final long VM_ALLOW_ANY_UNCACHED = HostVma.VM_ALLOW_ANY_UNCACHED;

  final MmStruct mm;
  final VmaKind kind;
  final HostFile file;
  long start;
  long end;
  long flags;
  long pgoff;
  /** The anon_vma new anonymous folios of this VMA belong to; null for other kinds. */
  final AnonVma anonVma;
  /** Every anon_vma this VMA is linked into, its own included (the anon_vma_chain). */
  final List<AnonVma> anonVmaChain = new ArrayList<>();

  Vma(MmStruct mm, long start, long end, long flags, VmaKind kind, long pgoff, HostFile file,
      AnonVma anonVma) {
    this.mm = mm;
    this.start = start;
    this.end = end;
    this.flags = flags;
    this.kind = kind;
    this.pgoff = pgoff;
    this.file = file;
    this.anonVma = anonVma;
  }

  /** The mm this VMA belongs to. */
  public MmStruct mm() {
    return mm;
  }

  /** vm_start. */
  public long start() {
    return start;
  }

  /** vm_end (exclusive). */
  public long end() {
    return end;
  }

  /** vm_flags. */
  public long flags() {
    return flags;
  }

  /** What backs this VMA. */
  public VmaKind kind() {
    return kind;
  }

  /** vm_pgoff. */
  public long pgoff() {
    return pgoff;
  }

  /** The mapped file for {@link VmaKind#FILE_SHARED}, else null. */
  public HostFile file() {
    return file;
  }

  /** Whether {@code flag} is set. */
  public boolean has(long flag) {
    return (flags & flag) != 0;
  }

  /** is_cow_mapping: private and potentially writable, so fork shares pages copy-on-write. */
  boolean isCowMapping() {
    return (flags & VM_SHARED) == 0
        && (kind == VmaKind.ANON
            || kind == VmaKind.ANON_THP
            || kind == VmaKind.HUGETLB_PMD
            || kind == VmaKind.HUGETLB_PUD);
  }

  /** linear_page_index: the page offset of {@code address} in the backing object. */
  long linearPageIndex(long address) {
    return pgoff + ((address - start) >>> mm.memory().pageShift());
  }

  /** The address mapping page {@code index} of the backing object, or -1 if outside. */
  long addressOf(long index) {
    long a = start + ((index - pgoff) << mm.memory().pageShift());
    return index >= pgoff && a < end ? a : -1;
  }

  /** Size of the huge page a hugetlb VMA maps, else the base page size. */
  long hugePageSize() {
    HostPageSize size = mm.memory().hostPageSize();
    switch (kind) {
      case HUGETLB_PMD:
        return size.pmdSize();
      case HUGETLB_PUD:
        return size.pudSize();
      default:
        return size.bytes();
    }
  }

  /**
   * This VMA as an arch fault handler sees it: bounds, {@code vm_flags} (with arm64's
   * {@code VM_MTE_ALLOWED} on anonymous and hugetlbfs memory, as {@code arch_calc_vm_flag_bits}
   * sets it on a host with MTE), {@code vma_kernel_pagesize} and {@code vm_pgoff}.
   */
  public HostVma describe() {
    long vmFlags = flags;
    if (kind == VmaKind.ANON
        || kind == VmaKind.ANON_THP
        || kind == VmaKind.HUGETLB_PMD
        || kind == VmaKind.HUGETLB_PUD) {
      vmFlags |= HostVma.VM_MTE_ALLOWED;
    }
    return new HostVma(start, end, vmFlags, Long.numberOfTrailingZeros(hugePageSize()), pgoff);
  }

  @Override
  public String toString() {
    return String.format(
        Locale.US, "Vma[0x%x-0x%x %s flags=0x%x pgoff=0x%x]", start, end, kind, flags, pgoff);
  }
}
