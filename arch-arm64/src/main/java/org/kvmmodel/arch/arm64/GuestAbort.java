package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.FaultinResult;
import org.kvmmodel.api.kvm.Foll;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.HostVma;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.PerVcpu;
import org.kvmmodel.api.kvm.RadixMmuOps;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.PageTableCursor;

/**
 * arm64's stage-2 abort handling ({@code arch/arm64/kvm/mmu.c}, 6.13):
 * {@code kvm_handle_guest_abort} sorting the fault, {@code handle_access_fault} for
 * access-flag faults and {@code user_mem_abort} for translation and permission faults, in the
 * kernel's order. There is no lockless fast path; every fault but an access-flag one goes
 * through faultin and the whole-VM {@code mmu_invalidate_retry}.
 *
 * <p>Where the kernel injects an abort into the guest (an instruction fetch outside memory or
 * from device memory, an IPA beyond the VM's size), the model's guest programs cannot take the
 * exception, so the vCPU exits with that fault's errno instead. A CPU without
 * {@code ARM64_HAS_CACHE_DIC} is modelled: only instruction aborts map executable.
 * {@code sanitise_mte_tags} clears tags the host model does not store, so with MTE only its
 * control flow (a VMA that may not carry tags is -EFAULT) is observable.
 */
final class GuestAbort {

  private final Kvm kvm;
  /**
   * The host's {@code PAGE_SHIFT}, {@code PMD_SHIFT} and {@code PUD_SHIFT}: the stage-2 granule
   * is the host page, and the block sizes a fault may map follow the host's page-table levels
   * (a 64 KiB host folds its PUD into the PGD).
   */
  private final int pageShift;
  private final int pmdShift;
  private final int pudShift;
  private final Stage2Config config;
  private final Stage2PgTable pgtable;
  private final PerVcpu<Abort> vcpus;

  GuestAbort(Kvm kvm, Stage2Config config, RadixMmuOps ops) {
    this.kvm = kvm;
    this.config = config;
    HostPageSize host = HostPageSize.ofShift(kvm.pageShift());
    this.pageShift = host.shift();
    this.pmdShift = host.pmdShift();
    this.pudShift = host.pudShift();
    this.pgtable = new Stage2PgTable(kvm, config);
    this.vcpus = new PerVcpu<>(id -> new Abort(ops.newCursor()));
  }

  /**
   * {@code kvm_handle_guest_abort}: a translation fault beyond the IPA size, a fault status
   * other than translation, permission or access flag, then the memslot and hva of the IPA
   * (under the vCPU's SRCU read lock, which the caller holds). No usable slot (none, or one
   * being deleted or moved) or a write to a read-only one is an MMIO exit for userspace
   * ({@code io_mem_abort}); an access-flag fault is made young; the rest is
   * {@link #userMemAbort}. Returns 0 to re-enter the guest, {@link KvmExit#MMIO}, or -errno.
   */
  int kvmHandleGuestAbort(int vcpuId, Stage2Walk walk) {
    int type = walk.faultKind() & Stage2HardwareWalker.FSC_TYPE;
    long ipa = walk.gpa() & -(1L << pageShift);
    if (type == Stage2HardwareWalker.FSC_FAULT && ipa >>> config.ipaBits() != 0) {
      return Errno.EFAULT.negative();
    }
    if (type != Stage2HardwareWalker.FSC_FAULT && type != Stage2HardwareWalker.FSC_PERM
        && type != Stage2HardwareWalker.FSC_ACCESS) {
      return Errno.EFAULT.negative();
    }
    long gfn = ipa >>> pageShift;
    MemorySlot memslot = kvm.gfnToMemslot(0, gfn);
    boolean errorHva = memslot == null || memslot.isInvalid();
    if (errorHva || (walk.isWrite() && memslot.isReadonly())) {
      return walk.isExec() ? Errno.ENOEXEC.negative() : KvmExit.MMIO;
    }
    Abort abort = vcpus.get(vcpuId);
    if (type == Stage2HardwareWalker.FSC_ACCESS) {
      handleAccessFault(abort, ipa);
      return 0;
    }
    abort.begin(walk, ipa);
    return userMemAbort(abort, memslot, memslot.gfnToHva(gfn), type == Stage2HardwareWalker.FSC_PERM);
  }

  /**
   * {@code handle_access_fault}: mmu_lock for read, {@code kvm_pgtable_stage2_mkyoung}. Since
   * "Don't mark "struct page" accessed when making SPTE young" no folio is touched.
   */
  void handleAccessFault(Abort abort, long ipa) {
    kvm.mmuLock().readLock();
    try {
      pgtable.mkyoung(abort.cursor, ipa);
    } finally {
      kvm.mmuLock().readUnlock();
    }
  }

  /**
   * {@code user_mem_abort}, in the kernel's order; {@code -EAGAIN} becomes 0 (the guest
   * re-executes and faults again if it must).
   */
  int userMemAbort(Abort a, MemorySlot memslot, long hva, boolean faultIsPerm) {
    boolean logging = memslot.dirtyLogEnabled() && !memslot.isReadonly();
    long faultGranule = faultIsPerm ? 1L << config.levelShift(a.faultLevel) : 0;
    if (faultIsPerm && !a.write && !a.exec) {
      return Errno.EFAULT.negative();
    }
    if (!faultIsPerm || (logging && a.write)) {
      int r = kvm.mmuTopupMemoryCache(config.levels() - 1);
      if (r != 0) {
        return r;
      }
    }
    boolean forcePte;
    int vmaShift;
    boolean mteAllowed;
    boolean vfioAllowAnyUc;
    long ipa = a.ipa;
    long mmuSeq;
    kvm.mmapReadLock();
    try {
      HostVma vma = kvm.vmaLookup(hva);
      if (vma == null) {
        return Errno.EFAULT.negative();
      }
      forcePte = logging;
      vmaShift = logging ? pageShift : getVmaPageShift(vma, hva);
      if (vmaShift == pudShift && !faultSupportsStage2HugeMapping(memslot, hva, 1L << pudShift)) {
        vmaShift = pmdShift;
      }
      if (vmaShift == pmdShift && !faultSupportsStage2HugeMapping(memslot, hva, 1L << pmdShift)) {
        vmaShift = pageShift;
        forcePte = true;
      }
      if (vmaShift != pageShift) {
        ipa &= -(1L << vmaShift);
      }
      mteAllowed = vma.has(HostVma.VM_MTE_ALLOWED);
      vfioAllowAnyUc = vma.has(HostVma.VM_ALLOW_ANY_UNCACHED);
      mmuSeq = kvm.mmuInvalidateSeq();
    } finally {
      kvm.mmapReadUnlock();
    }
    long vmaPageSize = 1L << vmaShift;
    long gfn = ipa >>> pageShift;
    FaultinResult faultin = a.faultin;
    long pfn = kvm.faultinPfn(memslot, gfn, a.write ? Foll.WRITE : 0, faultin);
    if (pfn == KvmPfn.ERR_HWPOISON) {
      return Errno.EHWPOISON.negative();
    }
    if (KvmPfn.isErrorOrNoslot(pfn)) {
      return Errno.EFAULT.negative();
    }
    long page = faultin.refcountedPage();
    boolean writable = faultin.writable();
    boolean device = page == KvmPfn.NO_PAGE;
    if (!device && logging && !a.write) {
      writable = false;
    }
    if (a.exec && device) {
      return Errno.ENOEXEC.negative();
    }
    int memType = !device ? 0 : vfioAllowAnyUc ? Stage2Prot.NORMAL_NC : Stage2Prot.DEVICE;
    int ret;
    kvm.mmuLock().readLock();
    try {
      ret = mapUnderLock(a, memslot, hva, faultIsPerm, faultGranule, mmuSeq, vmaPageSize,
          forcePte || device, memType, mteAllowed, ipa, pfn, writable);
      kvm.releaseFaultinPage(page, ret != 0, writable);
    } finally {
      kvm.mmuLock().readUnlock();
    }
    if (writable && ret == 0) {
      kvm.markPageDirtyInSlot(memslot, gfn);
    }
    return ret == Errno.EAGAIN.negative() ? 0 : ret;
  }

  /**
   * The part of {@code user_mem_abort} under mmu_lock, up to {@code out_unlock}: the retry
   * check, the THP adjustment, MTE, the protection, then relax-perms or map. {@code memType}
   * is 0 for memory with a struct page; for device memory it is
   * {@link Stage2Prot#NORMAL_NC} when the VMA has {@code VM_ALLOW_ANY_UNCACHED}, else
   * {@link Stage2Prot#DEVICE}.
   */
  private int mapUnderLock(Abort a, MemorySlot memslot, long hva, boolean faultIsPerm,
      long faultGranule, long mmuSeq, long vmaPageSize, boolean noAdjust, int memType,
      boolean mteAllowed, long ipa, long pfn, boolean writable) {
    if (kvm.mmuInvalidateRetry(mmuSeq)) {
      return Errno.EAGAIN.negative();
    }
    long size = vmaPageSize;
    long mapIpa = ipa;
    long mapPfn = pfn;
    if (size == (1L << pageShift) && !noAdjust) {
      if (faultIsPerm && faultGranule > (1L << pageShift)) {
        size = faultGranule;
      } else if (transparentHugepageAdjust(memslot, hva)) {
        size = 1L << pmdShift;
        mapIpa &= -size;
        mapPfn &= -(size >>> pageShift);
      }
    }
    if (!faultIsPerm && memType == 0 && config.mte() && !mteAllowed) {
      return Errno.EFAULT.negative();
    }
    int prot = Stage2Prot.R | (writable ? Stage2Prot.W : 0) | (a.exec ? Stage2Prot.X : 0)
        | memType;
    if (faultIsPerm && size == faultGranule) {
      return pgtable.relaxPerms(a.cursor, mapIpa, prot);
    }
    return pgtable.map(a.cursor, mapIpa & -size, size, mapPfn << pageShift, prot);
  }

  /**
   * {@code get_vma_page_shift}: a hugetlbfs VMA's huge page shift; for a {@code VM_PFNMAP} VMA
   * the largest of a PUD and a PMD whose aligned block around {@code hva} lies inside the VMA
   * and at which the hva and the physical address the VMA maps there ({@code vm_pgoff}) are
   * equally aligned; else {@code PAGE_SHIFT}.
   */
  int getVmaPageShift(HostVma vma, long hva) {
    if (vma.isHugetlb() && !vma.has(HostVma.VM_PFNMAP)) {
      return vma.pageShift();
    }
    if (!vma.has(HostVma.VM_PFNMAP)) {
      return pageShift;
    }
    long pa = vma.pfnmapPhysicalAddress(hva);
    for (int shift : new int[] {pudShift, pmdShift}) {
      long size = 1L << shift;
      if ((hva & (size - 1)) == (pa & (size - 1)) && (hva & -size) >= vma.start()
          && ((hva + size - 1) & -size) <= vma.end()) {
        return shift;
      }
    }
    return pageShift;
  }

  /**
   * {@code fault_supports_stage2_huge_mapping}: a block of {@code mapSize} at {@code hva} needs
   * the slot's IPA and hva equally aligned within the block, and the whole block inside the
   * slot.
   */
  boolean faultSupportsStage2HugeMapping(MemorySlot memslot, long hva, long mapSize) {
    if (mapSize == (1L << pageShift)) {
      return true;
    }
    long gpaStart = memslot.baseGfn() << pageShift;
    long uaddrStart = memslot.userspaceAddr();
    long uaddrEnd = memslot.userspaceEnd();
    if ((gpaStart & (mapSize - 1)) != (uaddrStart & (mapSize - 1))) {
      return false;
    }
    long blockStart = hva & -mapSize;
    return blockStart >= uaddrStart && blockStart + mapSize <= uaddrEnd;
  }

  /**
   * {@code transparent_hugepage_adjust}: a PMD block only if one fits the slot and aligns
   * ({@link #faultSupportsStage2HugeMapping}) and the host maps the hva with at least a PMD
   * ({@code get_user_mapping_size}).
   */
  private boolean transparentHugepageAdjust(MemorySlot memslot, long hva) {
    return faultSupportsStage2HugeMapping(memslot, hva, 1L << pmdShift)
        && kvm.hostMappingShift(hva) >= pmdShift;
  }

  /** One vCPU's abort state: its cursor, faultin out-parameters and the decoded ESR. */
  static final class Abort {
    final PageTableCursor cursor;
    final FaultinResult faultin = new FaultinResult();
    long ipa;
    boolean write;
    boolean exec;
    int faultLevel;

    Abort(PageTableCursor cursor) {
      this.cursor = cursor;
    }

    void begin(Stage2Walk walk, long faultIpa) {
      ipa = faultIpa;
      write = walk.isWrite();
      exec = walk.isExec();
      faultLevel = walk.faultKind() & Stage2HardwareWalker.FSC_LEVEL;
    }
  }
}
