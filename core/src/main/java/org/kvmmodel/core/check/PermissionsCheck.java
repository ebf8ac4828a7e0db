package org.kvmmodel.core.check;

import java.util.BitSet;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotSet;
import org.kvmmodel.core.kvm.VcpuRequestTarget;
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
 * host page table; huge leaves are also counted on their own. Dirty logging adds two rules:
 * no huge leaf in a slot that logs ({@link #judgeLogging}), and the write-protection every
 * dirty-log operation must leave when it returns ({@link #judgeProtection}).
 *
 * <p>Violation kinds: {@code writable-readonly-slot}, {@code writable-readonly-host-page},
 * {@code crosses-memslot}, {@code misaligned}, {@code no-host-mapping}, {@code wrong-pfnmap-pfn},
 * {@code exceeds-host-mapping}, {@code huge-leaf-while-logging},
 * {@code writable-after-log-protect}, {@code tlb-writable-after-log-protect}.
 */
public final class PermissionsCheck extends Check {

  public static final String ID = "PERMISSIONS";

  private final DirtyLogOperations operations = new DirtyLogOperations(kvm, this::judgeProtection);
  private long hugeLeavesJudged;
  /** New leaves: the backing of the frame they map × their size. */
  private final Facet leaves =
      facet(Facet.of("backing", Backing.labels(Backing.ANON, Backing.ANON_THP, Backing.HUGETLB,
              Backing.FILE, Backing.PFNMAP), "leaf", new String[] {"page", "huge"})
          // The host maps order-0 folios, and the model's page cache holds only such, with pages.
          .unreachable(Backing.ANON.ordinal(), 1)
          .unreachable(Backing.FILE.ordinal(), 1));
  /** Leaves judged: the slot's access × whether it logs dirty pages. */
  private final Facet slots =
      facet(Facet.of("slot", new String[] {"read-write", "read-only"}, "logging",
          new String[] {"off", "on"})
          // memslot_is_logging: a read-only slot is never written, so it never logs.
          .unreachable(1, 1));
  /** New leaves over {@code VM_PFNMAP} memory, by whether the host maps the pfn writable. */
  private final Facet pfnmap =
      facet(Facet.of("pfnmap-host-pte", "writable", "read-only"));
  /**
   * New leaves over frames with a {@code struct page}, by the host PTE at the hva when the leaf
   * was installed: writable, present but read-only (copy-on-write shared after fork, or
   * mprotect), or the shared zero page.
   */
  private final Facet hostPtes =
      facet(Facet.of("host-pte", "writable", "read-only", "zero-page"));
  /** Dirty-log operations whose write-protection was judged. */
  private final Facet protections = facet(Facet.of("protect", "harvest", "clear", "enable"));

  public PermissionsCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  /** How many new leaves larger than a page were judged. */
  public synchronized long hugeLeavesJudged() {
    return hugeLeavesJudged;
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    operations.onEvent(seq, tp, actor, a, b, c);
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
    MemorySlot slot = kvm.memslots().gfnToMemslot(0, gfn);
    if (slot == null) {
      return;
    }
    judged();
    long pages = Stage2Leaves.pagesAt(format, level);
    slots.hit(slot.isReadonly() ? 1 : 0, slot.dirtyLogEnabled() ? 1 : 0);
    long hva = slot.gfnToHva(gfn);
    long hostPte = kvm.vmm().hostPte(hva);
    Backing backing =
        Backing.of(kvm.memory(), format.outputAddress(value, level) >>> kvm.pageShift());
    if (newLeaf && backing.ordinal() <= Backing.PFNMAP.ordinal()
        && (pages == 1 || (backing != Backing.ANON && backing != Backing.FILE))) {
      leaves.hit(backing.ordinal(), pages > 1 ? 1 : 0);
    }
    if (newLeaf && backing == Backing.PFNMAP) {
      pfnmap.hit(HostPte.isWritable(hostPte) ? 0 : 1);
    } else if (newLeaf && HostPte.isPresent(hostPte) && HostPte.mapsPfn(hostPte)) {
      hostPtes.hit(kvm.memory().isZeroPfn(HostPte.pfn(hostPte)) ? 2
          : HostPte.isWritable(hostPte) ? 0 : 1);
    }
    if (newWrite && slot.isReadonly()) {
      fail(seq, actor, "writable-readonly-slot",
          "gfn %#x of read-only memslot %d mapped writable at stage 2", gfn, slot.id());
    } else if (newWrite && !(HostPte.isPresent(hostPte) && HostPte.isWritable(hostPte))) {
      fail(seq, actor, "writable-readonly-host-page",
          "gfn %#x mapped writable at stage 2 while its host page at hva %#x is not writable"
              + " (host pte %#x)", gfn, hva, hostPte);
    }
    if (pages > 1) {
      judgeLogging(seq, actor, gfn, pages, slot, newLeaf ? "was installed" : "was made writable");
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
      fail(seq, actor, "crosses-memslot",
          "a %d-page leaf at gfn %#x crosses the bounds of memslot %d", pages, gfn, slot.id());
    } else if ((gfn & mask) != 0 || (hva >>> slot.pageShift() & mask) != 0) {
      fail(seq, actor, "misaligned",
          "a %d-page leaf at gfn %#x is not aligned with its hva %#x", pages, gfn, hva);
    }
  }

  /**
   * No huge leaf is installed or made writable in a slot that logs dirty pages: the fault that
   * saw the slot logging maps pages only. A fault that still holds the slot as it was before logging was
   * turned on may finish while the memslot generation is marked in progress (the swap waits
   * for it in {@code synchronize_srcu}), and the commit then write-protects what it installed,
   * so only leaves installed outside that window are judged by this rule.
   */
  private void judgeLogging(
      long seq, int actor, long gfn, long pages, MemorySlot slot, String what) {
    if (!slot.dirtyLogEnabled() || slot.isReadonly()
        || (kvm.memslots().active(slot.asId()).generation()
            & MemslotSet.GEN_UPDATE_IN_PROGRESS) != 0) {
      return;
    }
    fail(seq, actor, "huge-leaf-while-logging",
        "a %d-page leaf at gfn %#x %s while memslot %d logs dirty pages: with dirty logging on,"
            + " stage 2 maps pages only", pages, gfn, what, slot.id());
  }

  /**
   * When a dirty-log operation returns successfully, every gfn it had to write-protect (those
   * a harvest reported, those whose bits a clear cleared, the whole slot when logging was turned
   * on without {@code KVM_DIRTY_LOG_INITIALLY_SET}) is mapped by no writable leaf and cached
   * writable in no vCPU's TLB, unless a guest fault or a log mark touched it meanwhile.
   */
  private void judgeProtection(long seq, int actor, DirtyLogOperations.Operation op) {
    if (op.ret != 0 || op.kind == DirtyLogOperations.Kind.COPY) {
      return;
    }
    BitSet pages = op.mustProtect();
    if (pages.isEmpty()) {
      return;
    }
    judged();
    protections.hit(op.kind == DirtyLogOperations.Kind.HARVEST ? 0
        : op.kind == DirtyLogOperations.Kind.CLEAR ? 1 : 2);
    MemorySlot slot = op.slot;
    long[] writable = {-1};
    Stage2Leaves.forEachWritableGfn(kvm, slot.baseGfn(), slot.endGfn(), gfn -> {
      if (writable[0] < 0 && pages.get((int) (gfn - slot.baseGfn()))) {
        writable[0] = gfn;
      }
    });
    if (writable[0] >= 0) {
      fail(seq, actor, "writable-after-log-protect",
          "%s returned with gfn %#x still writable at stage 2, and no guest fault or log mark"
              + " touched it since", describe(op), writable[0]);
      return;
    }
    for (VcpuRequestTarget vcpu : kvm.vcpus()) {
      if (vcpu.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH)) {
        continue;
      }
      long[] cached = {-1};
      vcpu.forEachCachedTranslation((gfn, pfn, permissions, level) -> {
        long rel = gfn - slot.baseGfn();
        if ((cached[0] < 0 || gfn < cached[0]) && (permissions & GuestAccess.WRITE) != 0
            && rel >= 0 && rel < slot.npages() && pages.get((int) rel)
            && !vcpu.tlbInvalidationPending(gfn, level)) {
          cached[0] = gfn;
        }
      });
      if (cached[0] >= 0) {
        fail(seq, actor, "tlb-writable-after-log-protect",
            "%s returned with %s's TLB still granting write to gfn %#x, and no guest fault or log"
                + " mark touched it since", describe(op), vcpu.name(), cached[0]);
        return;
      }
    }
  }

  private static String describe(DirtyLogOperations.Operation op) {
    switch (op.kind) {
      case HARVEST:
        return "KVM_GET_DIRTY_LOG of slot " + op.slot.id() + ", which reported the gfn,";
      case CLEAR:
        return "KVM_CLEAR_DIRTY_LOG of slot " + op.slot.id() + ", which cleared the gfn's bit,";
      default:
        return "Turning on dirty logging for slot " + op.slot.id();
    }
  }

  private void judgeHostMapping(long seq, int actor, long gfn, long pages, long hva,
      long hostPte, long outputAddress) {
    if (!HostPte.mapsPfn(hostPte)) {
      fail(seq, actor, "no-host-mapping",
          "a %d-page leaf at gfn %#x has no host mapping at hva %#x", pages, gfn, hva);
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
