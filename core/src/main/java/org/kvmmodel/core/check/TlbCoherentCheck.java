package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.VcpuRequestTarget;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * TLB-COHERENT: what a vCPU's TLB may still use never outlives KVM's promise to the host and
 * to its own lock. When {@code kvm_mmu_notifier_invalidate_range_start} returns, no vCPU's TLB
 * translates a gfn of the range: the host is about to reuse the pages. And a permission loss
 * made under mmu_lock (a leaf zapped, made read-only or pointed at another pfn) is flushed from
 * every vCPU's TLB before that hold of mmu_lock ends, by unlock or by a long walk yielding the
 * lock to reschedule, as the TDP MMU's
 * {@code kvm_flush_remote_tlbs} before {@code write_unlock} (and before
 * {@code tdp_mmu_iter_cond_resched} yields) guarantees; otherwise a second path could see the
 * tables and a TLB disagree.
 *
 * <p>A vCPU with {@code KVM_REQ_TLB_FLUSH} pending counts as flushed: it cannot enter the
 * guest before handling it. Where the arch flushes by range, only the translations whose leaf
 * a queued ranged invalidation covers count as flushed, so a flush of the wrong range (or one
 * too small for the leaf it meant) leaves the rest to be judged. Two kinds of permission loss are exempt from the before-unlock
 * rule, because KVM flushes them after dropping mmu_lock on purpose: the write-protection of
 * dirty logging, done by {@code kvm_arch_mmu_enable_log_dirty_pt_masked} while harvesting
 * (the harvested gfn was already reported dirty, so a write through the stale TLB entry loses
 * nothing; {@code kvm_get_dirty_log_protect} flushes after unlock) and by
 * {@code kvm_arch_commit_memory_region} when logging is turned on (flushed before the ioctl
 * returns); and aging ({@code clear_young}), whose leaf change is the format's own
 * make-old transition and which the mmu_notifier contract lets go unflushed. Nor is anything
 * zapped after {@code kvm_mmu_notifier_release} judged: KVM zaps everything only once the VMM
 * has exited or the VM is being destroyed, when no vCPU can enter the guest again, and
 * {@code kvm_tdp_mmu_zap_all} flushes nothing for that reason.
 *
 * <p>When an entry is installed, no vCPU's TLB holds a translation of its range that it does
 * not give: another pfn (on every arch), or, where the architecture requires break-before-make
 * (arm64), another size.
 *
 * <p>Violation kinds: {@code unmapped-leaf-cached}, {@code repointed-leaf-cached},
 * {@code write-protected-leaf-cached}, {@code cached-after-invalidate-start},
 * {@code stale-translation-at-install}, {@code replaced-without-break}.
 */
public final class TlbCoherentCheck extends Check {

  public static final String ID = "TLB-COHERENT";

  private boolean[] holding = new boolean[8];
  private boolean[] deferring = new boolean[8];
  /** The entry each actor last made invalid in its hold: first gfn, level, and leaf or table. */
  private long[] brokenGfn = new long[8];
  private int[] brokenLevel = new int[8];
  private boolean[] brokenLeaf = new boolean[8];
  private final List<GfnRanges> lost = new ArrayList<>();
  /**
   * The entry being installed and the vCPU whose TLB is judged against it, in fields so that
   * judging an install allocates nothing.
   */
  private long installBase;
  private long installPages;
  private int installLevel;
  private boolean installLeaf;
  private long installFirstPfn;
  private boolean installBreakBeforeMake;
  private long installSeq;
  private int installActor;
  private VcpuRequestTarget installVcpu;
  private boolean staleFound;
  private final VcpuRequestTarget.CachedTranslation cachedAtInstall = this::judgeCachedAtInstall;
  /** When the TLBs were judged. */
  private final Facet moments =
      facet(Facet.of("when", "mmu-lock-released", "mmu-lock-yielded",
          "invalidate-range-start-returned"));
  /**
   * What an installed entry replaced, in place or just broken by the same actor in the same hold
   * (break-before-make): nothing, an entry of its kind (a leaf, a table), or the other kind.
   */
  private final Facet installs =
      facet(Facet.of("install-over", "empty", "same-size", "other-size"));

  /**
   * Set at {@code kvm_mmu_notifier_release}: the VMM has exited or the VM is being destroyed,
   * so {@code KVM_RUN} cannot be reached again and the zaps that follow need no flush.
   */
  private boolean vcpusGone;

  public TlbCoherentCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  private void ensure(int actor) {
    if (actor >= holding.length) {
      int n = Math.max(actor + 1, holding.length * 2);
      holding = Arrays.copyOf(holding, n);
      deferring = Arrays.copyOf(deferring, n);
      brokenGfn = Arrays.copyOf(brokenGfn, n);
      brokenLevel = Arrays.copyOf(brokenLevel, n);
      brokenLeaf = Arrays.copyOf(brokenLeaf, n);
    }
    while (lost.size() <= actor) {
      lost.add(new GfnRanges());
    }
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case MMU_LOCK:
        holding[actor] = true;
        brokenLevel[actor] = -1;
        break;
      case MMU_UNLOCK:
        holding[actor] = false;
        brokenLevel[actor] = -1;
        judgeUnlock(seq, actor, b != 0);
        break;
      case ENABLE_LOG_DIRTY_PT_MASKED:
      case COMMIT_MEMORY_REGION:
        deferring[actor] = true;
        break;
      case ENABLE_LOG_DIRTY_PT_MASKED_DONE:
      case COMMIT_MEMORY_REGION_DONE:
        deferring[actor] = false;
        break;
      case SPTE_CHANGED:
        noteLoss(actor, a, b, c);
        judgeInstall(seq, actor, a, b, c);
        break;
      case INVALIDATE_RANGE_START_DONE:
        judgeRange(seq, actor, a, b);
        break;
      case MMU_NOTIFIER_RELEASE:
        vcpusGone = true;
        break;
      default:
        break;
    }
  }

  /** Remembers a permission the tables took away under this actor's hold of mmu_lock. */
  private void noteLoss(int actor, long gfn, long old, long value) {
    if (!holding[actor] || vcpusGone || kvm.pageTablePages().pageTables().isEmpty()) {
      return;
    }
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = kvm.pageTablePages().lastWriteLevel();
    if (!Stage2Leaves.isLeaf(format, old, level)) {
      return;
    }
    boolean stillLeaf = Stage2Leaves.isLeaf(format, value, level);
    boolean samePfn =
        stillLeaf && format.outputAddress(old, level) == format.outputAddress(value, level);
    boolean writeLost =
        Stage2Leaves.isWritableLeaf(format, old, level)
            && !Stage2Leaves.isWritableLeaf(format, value, level);
    if (samePfn && !writeLost) {
      return;
    }
    if ((samePfn && deferring[actor]) || value == format.makeOld(old, level)) {
      return;
    }
    lost.get(actor).add(gfn, Stage2Leaves.pagesAt(format, level));
  }

  /**
   * When a valid entry is written: no vCPU's TLB still holds, inside the entry's range, a
   * translation the entry does not give. A new leaf maps each gfn to its own pfn, so a cached
   * translation to another pfn survived its old leaf's removal. And where the architecture
   * requires break-before-make, a cached translation of another size (small pages under a new
   * block, a block under a new table) means the old entry was replaced without being made
   * invalid and flushed first.
   */
  private void judgeInstall(long seq, int actor, long gfn, long old, long value) {
    if (old == value || kvm.pageTablePages().pageTables().isEmpty()) {
      return;
    }
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = kvm.pageTablePages().lastWriteLevel();
    long pages = Stage2Leaves.pagesAt(format, level);
    long base = gfn & -pages;
    if (!format.isPresent(value, level)) {
      if (format.isPresent(old, level)) {
        brokenGfn[actor] = base;
        brokenLevel[actor] = level;
        brokenLeaf[actor] = Stage2Leaves.isLeaf(format, old, level);
      }
      return;
    }
    boolean leaf = Stage2Leaves.isLeaf(format, value, level);
    int replaced; // 0 nothing, 1 an entry of the same kind, 2 a table for a block or back
    if (format.isPresent(old, level)) {
      replaced = Stage2Leaves.isLeaf(format, old, level) == leaf ? 1 : 2;
    } else if (brokenLevel[actor] == level && brokenGfn[actor] == base) {
      replaced = brokenLeaf[actor] == leaf ? 1 : 2;
    } else {
      replaced = 0;
    }
    judged();
    installs.hit(replaced);
    installBase = base;
    installPages = pages;
    installLevel = level;
    installLeaf = leaf;
    installFirstPfn = leaf ? format.outputAddress(value, level) >>> kvm.pageShift() : -1;
    installBreakBeforeMake = format.requiresBreakBeforeMake();
    installSeq = seq;
    installActor = actor;
    List<VcpuRequestTarget> vcpus = kvm.vcpus();
    for (int i = 0; i < vcpus.size(); i++) { // by index: an iterator would allocate per write
      VcpuRequestTarget vcpu = vcpus.get(i);
      if (vcpu.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH)) {
        continue;
      }
      installVcpu = vcpu;
      staleFound = false;
      if (pages == 1) {
        long pfn = vcpu.cachedPfn(base);
        if (pfn >= 0) {
          judgeCachedAtInstall(base, pfn, 0, vcpu.cachedLevel(base));
        }
      } else {
        vcpu.forEachCachedTranslation(cachedAtInstall);
      }
    }
  }

  /**
   * One translation {@link #installVcpu}'s TLB holds, judged against the entry being installed
   * (the {@code install*} fields); the first stale one per vCPU fails.
   */
  private void judgeCachedAtInstall(long gfn, long pfn, int permissions, int cachedLevel) {
    if (staleFound || gfn < installBase || gfn >= installBase + installPages
        || installVcpu.tlbInvalidationPending(gfn, cachedLevel)) {
      return;
    }
    long expected = installFirstPfn + (gfn - installBase);
    if (installLeaf && pfn != expected) {
      staleFound = true;
      fail(installSeq, installActor, "stale-translation-at-install",
          "a leaf mapping gfn %#x to pfn %#x was installed while %s's TLB still translates it to"
              + " pfn %#x", gfn, expected, installVcpu.name(), pfn);
    } else if (installBreakBeforeMake
        && (installLeaf ? cachedLevel != installLevel : cachedLevel == installLevel)) {
      staleFound = true;
      fail(installSeq, installActor, "replaced-without-break",
          "a level-%d %s was installed over gfn %#x while %s's TLB still holds a level-%d"
              + " translation of it: the old entry was not made invalid and flushed first"
              + " (break-before-make)", installLevel, installLeaf ? "leaf" : "table", gfn,
          installVcpu.name(), cachedLevel);
    }
  }

  /**
   * At the end of a hold of mmu_lock, whether the critical section ends or a long walk yields
   * the lock to reschedule: every loss made under it is gone from every TLB.
   */
  private void judgeUnlock(long seq, int actor, boolean resched) {
    GfnRanges ranges = lost.get(actor);
    if (ranges.isEmpty()) {
      return;
    }
    judged();
    moments.hit(resched ? 1 : 0);
    String released = resched ? "mmu_lock yielded by cond_resched" : "mmu_lock released";
    long[] leafPfn = new long[1];
    for (VcpuRequestTarget vcpu : kvm.vcpus()) {
      if (vcpu.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH)) {
        continue;
      }
      String[] stale = new String[2]; // the kind and the message of the first stale entry
      vcpu.forEachCachedTranslation(
          (gfn, pfn, permissions, level) -> {
            if (stale[0] != null || !ranges.contains(gfn)
                || vcpu.tlbInvalidationPending(gfn, level)) {
              return;
            }
            switch (Stage2Leaves.lookup(kvm, gfn, pfn, leafPfn)) {
              case NONE:
                stale[0] = "unmapped-leaf-cached";
                stale[1] = String.format(Locale.US,
                    "%s while %s's TLB still translates gfn %#x, which has no stage-2 leaf",
                    released, vcpu.name(), gfn);
                break;
              case OTHER_PFN:
                stale[0] = "repointed-leaf-cached";
                stale[1] = String.format(Locale.US,
                    "%s while %s's TLB still translates gfn %#x to pfn %#x, whose stage-2 leaf"
                        + " now maps pfn %#x", released, vcpu.name(), gfn, pfn, leafPfn[0]);
                break;
              case READ_ONLY:
                if ((permissions & GuestAccess.WRITE) != 0) {
                  stale[0] = "write-protected-leaf-cached";
                  stale[1] = String.format(Locale.US,
                      "%s while %s's TLB still grants write to gfn %#x, whose stage-2 leaf is"
                          + " read-only", released, vcpu.name(), gfn);
                }
                break;
              default:
                break;
            }
          });
      if (stale[0] != null) {
        fail(seq, actor, stale[0], "%s", stale[1]);
      }
    }
    ranges.clear();
  }


  /** When invalidate_range_start returns: no vCPU's TLB translates a gfn of the range. */
  private void judgeRange(long seq, int actor, long start, long end) {
    for (int as = 0; as < kvm.memslots().addressSpaces(); as++) {
      for (KvmMemslot s : kvm.memslots().active(as).overlappingHva(start, end)) {
        MemorySlot slot = s.slot();
        long gfnStart = slot.hvaToGfn(Math.max(start, slot.userspaceAddr()));
        long gfnEnd = slot.hvaToGfn(Math.min(end, slot.userspaceEnd()) + slot.pageSize() - 1);
        judged();
        moments.hit(2);
        for (VcpuRequestTarget vcpu : kvm.vcpus()) {
          if (vcpu.requestPending(VcpuRequestTarget.KVM_REQ_TLB_FLUSH)) {
            continue;
          }
          long[] first = {-1};
          vcpu.forEachCachedTranslation(
              (gfn, pfn, permissions, level) -> {
                if (gfn >= gfnStart && gfn < gfnEnd && (first[0] < 0 || gfn < first[0])
                    && !vcpu.tlbInvalidationPending(gfn, level)) {
                  first[0] = gfn;
                }
              });
          if (first[0] >= 0) {
            fail(seq, actor, "cached-after-invalidate-start",
                "invalidate_range_start returned while %s's TLB still translates gfn %#x (hva %#x)",
                vcpu.name(), first[0], slot.gfnToHva(first[0]));
          }
        }
      }
    }
  }
}
