package org.kvmmodel.core.check;

import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * PERMISSIONS: stage 2 never grants more than the memslot and the host mapping do. A leaf that
 * becomes writable must belong to a slot without {@code KVM_MEM_READONLY} and to a host page
 * that is writable at that moment (not a read-only, COW-shared or zero-page PTE), which is what
 * {@code kvm_follow_pfn}'s {@code map_writable} and the arch's use of it in
 * {@code kvm_mmu_faultin_pfn} / {@code user_mem_abort} promise. A new leaf of any size stays
 * inside its memslot and its IPA and hva are equally aligned to its size
 * ({@code fault_supports_stage2_huge_mapping}, the lpage_info disallow of unaligned slots). A
 * new huge leaf (its size from the arch's page-table geometry) never exceeds the host mapping
 * of its hva at install time ({@code kvm_mmu_max_mapping_level}, {@code host_pfn_mapping_level},
 * {@code transparent_hugepage_adjust}, hugetlbfs' page size); over {@code VM_PFNMAP} memory,
 * which the host maps with pages, KVM's rule is alignment instead ({@code get_vma_page_shift}
 * from {@code vm_pgoff}), so such a leaf must map exactly the pfn the host maps at its first
 * hva, which with its hva aligned makes hva and physical address equally aligned. Judged at
 * every leaf installed or changed, from the new entry, the memslots of address space 0 and the
 * host page table; huge leaves are also counted on their own.
 */
public final class PermissionsCheck extends Check {

  public static final String ID = "PERMISSIONS";

  private long hugeLeavesJudged;

  public PermissionsCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  /** How many new leaves larger than a page were judged. */
  public synchronized long hugeLeavesJudged() {
    return hugeLeavesJudged;
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    if (tp == Tracepoint.SPTE_CHANGED && !kvm.pageTablePages().pageTables().isEmpty()) {
      judgeLeaf(seq, actor, a, b, c);
    }
  }

  private void judgeLeaf(long seq, int actor, long gfn, long old, long value) {
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = kvm.pageTablePages().lastWriteLevel();
    if (!Stage2Leaves.isLeaf(format, value, level)) {
      return;
    }
    boolean writable = Stage2Leaves.isWritableLeaf(format, value, level);
    boolean newLeaf =
        !Stage2Leaves.isLeaf(format, old, level)
            || format.outputAddress(old, level) != format.outputAddress(value, level);
    boolean newWrite = writable && (newLeaf || !Stage2Leaves.isWritableLeaf(format, old, level));
    if (!newLeaf && !newWrite) {
      return;
    }
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    if (slot == null) {
      return;
    }
    judged();
    long pages = Stage2Leaves.pagesAt(format, level);
    long hva = slot.gfnToHva(gfn);
    long hostPte = kvm.vmm().hostPte(hva);
    if (newWrite && slot.isReadonly()) {
      fail(seq, actor, "writable-readonly-slot", "gfn %#x of read-only memslot %d mapped writable at stage 2", gfn,
          slot.id());
    } else if (newWrite && !(HostPte.isPresent(hostPte) && HostPte.isWritable(hostPte))) {
      fail(seq, actor, "writable-readonly-host-page",
          "gfn %#x mapped writable at stage 2 while its host page at hva %#x is not writable"
              + " (host pte %#x)", gfn, hva, hostPte);
    }
    if (newLeaf) {
      judgeSize(seq, actor, gfn, pages, slot, hva);
      if (pages > 1) {
        hugeLeavesJudged++;
        judgeHostMapping(
            seq, actor, gfn, pages, hva, hostPte, format.outputAddress(value, level));
      }
    }
  }

  private void judgeSize(long seq, int actor, long gfn, long pages, MemorySlot slot, long hva) {
    long mask = pages - 1;
    if (gfn < slot.baseGfn() || gfn + pages > slot.endGfn()) {
      fail(seq, actor, "crosses-memslot", "a %d-page leaf at gfn %#x crosses the bounds of memslot %d", pages, gfn,
          slot.id());
    } else if ((gfn & mask) != 0 || (hva >>> slot.pageShift() & mask) != 0) {
      fail(seq, actor, "misaligned", "a %d-page leaf at gfn %#x is not aligned with its hva %#x", pages, gfn,
          hva);
    }
  }

  private void judgeHostMapping(long seq, int actor, long gfn, long pages, long hva,
      long hostPte, long outputAddress) {
    if (!HostPte.mapsPfn(hostPte)) {
      fail(seq, actor, "no-host-mapping", "a %d-page leaf at gfn %#x has no host mapping at hva %#x", pages, gfn,
          hva);
      return;
    }
    long hostPfn = HostPte.pfn(hostPte);
    if (kvm.vmm().memory().isIoPfn(hostPfn)) {
      long pfn = outputAddress >>> kvm.pageShift();
      if (pfn != hostPfn) {
        fail(seq, actor, "wrong-pfnmap-pfn",
            "a %d-page leaf at gfn %#x maps pfn %#x where the VM_PFNMAP host mapping of hva %#x"
                + " has pfn %#x", pages, gfn, pfn, hva, hostPfn);
      }
      return;
    }
    long hostPages = kvm.memory().hostPageSize().levelSize(HostPte.level(hostPte)) >>> kvm.pageShift();
    if (pages > hostPages) {
      fail(seq, actor, "exceeds-host-mapping",
          "a %d-page leaf at gfn %#x exceeds the host mapping of hva %#x (%d pages)", pages,
          gfn, hva, hostPages);
    }
  }
}
