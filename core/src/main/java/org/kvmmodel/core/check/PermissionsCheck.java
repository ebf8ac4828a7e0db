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
 * inside its memslot, is aligned with the slot's hva for its size and never exceeds the host
 * mapping level ({@code kvm_mmu_max_mapping_level}, {@code host_pfn_mapping_level},
 * {@code fault_supports_stage2_huge_mapping}). Judged at every leaf installed or changed, from
 * the new entry, the memslots of address space 0 and the host page table.
 */
public final class PermissionsCheck extends Check {

  public static final String ID = "PERMISSIONS";

  public PermissionsCheck(KvmInstance kvm) {
    super(ID, kvm);
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
      fail(seq, actor, "gfn %#x of read-only memslot %d mapped writable at stage 2", gfn,
          slot.id());
    } else if (newWrite && !(HostPte.isPresent(hostPte) && HostPte.isWritable(hostPte))) {
      fail(seq, actor,
          "gfn %#x mapped writable at stage 2 while its host page at hva %#x is not writable"
              + " (host pte %#x)", gfn, hva, hostPte);
    }
    if (newLeaf) {
      judgeSize(seq, actor, gfn, pages, slot, hva, hostPte);
    }
  }

  private void judgeSize(
      long seq, int actor, long gfn, long pages, MemorySlot slot, long hva, long hostPte) {
    if (gfn < slot.baseGfn() || gfn + pages > slot.endGfn()) {
      fail(seq, actor, "a %d-page leaf at gfn %#x crosses the bounds of memslot %d", pages, gfn,
          slot.id());
    } else if ((hva & ((pages << MemorySlot.PAGE_SHIFT) - 1)) != 0) {
      fail(seq, actor, "a %d-page leaf at gfn %#x is not aligned with its hva %#x", pages, gfn,
          hva);
    } else if (HostPte.mapsPfn(hostPte)) {
      long hostPages = 1L << (9 * (HostPte.level(hostPte) - HostPte.LEVEL_4K));
      if (pages > hostPages) {
        fail(seq, actor,
            "a %d-page leaf at gfn %#x exceeds the host mapping of hva %#x (%d pages)", pages,
            gfn, hva, hostPages);
      }
    }
  }
}
