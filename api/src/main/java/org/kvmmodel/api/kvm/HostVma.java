package org.kvmmodel.api.kvm;

/**
 * What an arch fault handler reads from the host VMA backing a fault's hva while it holds the
 * mmap lock ({@code vma_lookup} under {@code mmap_read_lock} in {@code user_mem_abort} and
 * {@code kvm_riscv_gstage_map}): its bounds, its {@code vm_flags} with the kernel's bit values,
 * the size of the pages it maps ({@code vma_kernel_pagesize}: the huge page size of a
 * hugetlbfs VMA, else the base page size) and {@code vm_pgoff}.
 *
 * @param start {@code vm_start}
 * @param end {@code vm_end}, exclusive
 * @param flags {@code vm_flags}
 * @param pageShift log2 of {@code vma_kernel_pagesize(vma)}
 * @param pgoff {@code vm_pgoff}: the page offset of {@code start} in what the VMA maps; for a
 *     {@code VM_PFNMAP} mapping made by {@code remap_pfn_range}, the first pfn
 */
public record HostVma(long start, long end, long flags, int pageShift, long pgoff) {

  public static final long VM_READ = 0x1;
  public static final long VM_WRITE = 0x2;
  public static final long VM_SHARED = 0x8;
  public static final long VM_PFNMAP = 0x400;
  public static final long VM_IO = 0x4000;
  public static final long VM_HUGETLB = 0x400000;
  public static final long VM_MIXEDMAP = 0x10000000;
  /**
   * arm64's {@code VM_MTE_ALLOWED} ({@code VM_HIGH_ARCH_1}): the mapping may carry MTE tags;
   * set for anonymous, shmem and hugetlbfs mappings on a system with MTE.
   */
  public static final long VM_MTE_ALLOWED = 1L << 33;
  /**
   * {@code VM_ALLOW_ANY_UNCACHED} (bit 39 on 64-bit kernels): the driver vouches that the
   * memory behind the VMA tolerates any non-cacheable memory type, so KVM may let the guest
   * choose one; vfio-pci sets it on its BAR mappings.
   */
  public static final long VM_ALLOW_ANY_UNCACHED = 1L << 39;

  /** Whether every bit of {@code flag} is set. */
  public boolean has(long flag) {
    return (flags & flag) == flag;
  }

  /** {@code is_vm_hugetlb_page}. */
  public boolean isHugetlb() {
    return has(VM_HUGETLB);
  }

  /**
   * The physical address a {@code VM_PFNMAP} VMA maps at {@code hva}, from {@code vm_pgoff}
   * as {@code get_vma_page_shift} computes it (such a VMA maps base pages, so its page shift
   * is the host's {@code PAGE_SHIFT}).
   */
  public long pfnmapPhysicalAddress(long hva) {
    return (pgoff << pageShift) + (hva - start);
  }

  /** {@code vma_kernel_pagesize}. */
  public long pageSize() {
    return 1L << pageShift;
  }
}
