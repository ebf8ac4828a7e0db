package org.kvmmodel.arch.x86;

import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.pt.EntrySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * Intel EPT as the TDP MMU builds and updates it ({@code arch/x86/kvm/mmu/tdp_mmu.c},
 * {@code tdp_iter.h}): 4 or 5 levels of 512 entries, levels numbered 1 (4 KiB) up to the
 * root, leaves at levels 1-3, and every transition done the way the TDP MMU does it when it
 * holds mmu_lock for read, so lockless walkers and concurrent faults stay correct:
 * <ul>
 *   <li>install and attribute updates: one {@code cmpxchg} that may lose a race
 *       ({@code tdp_mmu_set_spte_atomic});
 *   <li>zap: freeze the SPTE to {@code FROZEN_SPTE}, flush the TLB for its range, then write
 *       {@code SHADOW_NONPRESENT_VALUE} ({@code tdp_mmu_zap_spte_atomic});
 *   <li>replace: {@code cmpxchg}, then a flush when the old translation must not survive: a
 *       table replaced by a huge leaf, a different page, or lost MMU-writability
 *       ({@code tdp_mmu_map_handle_target_level}); splitting a huge page needs none
 *       ({@code tdp_mmu_split_huge_page});
 *   <li>entries of an unlinked table are frozen one by one ({@code handle_removed_pt}).
 * </ul>
 */
public final class EptPageTableFormat implements PageTableFormat {

  /** EPT maps 4 KiB pages: the host's {@code PAGE_SHIFT} must be 12. */
  static final int PAGE_SHIFT = 12;

  private final PageTableGeometry geometry;
  private final EptSpteEncoder encoder;

  /**
   * EPT with {@code levels} levels (4 or 5) and the given SPTE encoder.
   */
  public EptPageTableFormat(int levels, EptSpteEncoder encoder) {
    if (levels != 4 && levels != 5) {
      throw new IllegalArgumentException("EPT has 4 or 5 levels, not " + levels);
    }
    int[] bits = new int[levels];
    boolean[] leaves = new boolean[levels];
    for (int depth = 0; depth < levels; depth++) {
      bits[depth] = 9;
      leaves[depth] = levels - depth <= 3;
    }
    this.geometry = new PageTableGeometry(PAGE_SHIFT, bits, levels, -1, leaves);
    this.encoder = encoder;
  }

  /**
   * The format for one of {@link X86Plugin}'s configurations ({@code levels} = 4|5,
   * {@code ad-bits} = on|off), on a CPU with execute-only EPT support.
   */
  public static EptPageTableFormat forConfiguration(ArchConfiguration configuration) {
    int levels = Integer.parseInt(configuration.parameter("levels"));
    boolean ad = "on".equals(configuration.parameter("ad-bits"));
    return new EptPageTableFormat(levels, new EptSpteEncoder(ad, true));
  }

  /** The SPTE encoder this table's entries are made with. */
  public EptSpteEncoder encoder() {
    return encoder;
  }

  @Override
  public PageTableGeometry geometry() {
    return geometry;
  }

  @Override
  public long emptyEntry(int level) {
    return Spte.SHADOW_NONPRESENT_VALUE;
  }

  @Override
  public boolean isPresent(long entry, int level) {
    return Spte.isShadowPresentPte(entry);
  }

  @Override
  public boolean isLeaf(long entry, int level) {
    return Spte.isLastSpte(entry, level);
  }

  @Override
  public boolean isLocked(long entry, int level) {
    return Spte.isFrozenSpte(entry);
  }

  @Override
  public long outputAddress(long entry, int level) {
    return entry & Spte.BASE_ADDR_MASK;
  }

  @Override
  public long makeTable(long childPhysicalAddress, int level) {
    return encoder.makeNonleafSpte(childPhysicalAddress);
  }

  @Override
  public long makeSplitChild(long hugeEntry, int hugeLevel, int index) {
    return EptSpteEncoder.makeSmallSpte(hugeEntry, hugeLevel - 1, index);
  }

  @Override
  public boolean isYoung(long entry, int level) {
    return Spte.isAccessedSpte(entry);
  }

  /** {@code kvm_tdp_mmu_age_gfn_range}: clear A, or access-track when A/D is off. */
  @Override
  public long makeOld(long entry, int level) {
    return Spte.markSpteForAccessTrack(entry);
  }

  /** {@code wrprot_gfn_range}: clear W, keep MMU-writable so the fast path can restore it. */
  @Override
  public long makeWriteProtected(long entry, int level) {
    return entry & ~Spte.WRITABLE;
  }

  @Override
  public boolean tryInstall(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public boolean tryReplace(EntrySlot slot, long expected, long value) {
    if (!slot.compareAndSet(expected, value)) {
      return false;
    }
    boolean split = !Spte.isLastSpte(value, slot.level());
    boolean wasTable = !Spte.isLastSpte(expected, slot.level());
    if (!split
        && (wasTable
            || Spte.spteToPfn(expected) != Spte.spteToPfn(value)
            || (Spte.isMmuWritableSpte(expected) && !Spte.isMmuWritableSpte(value)))) {
      slot.flushTlb();
    }
    return true;
  }

  @Override
  public boolean tryZap(EntrySlot slot, long expected) {
    if (!slot.compareAndSet(expected, Spte.FROZEN_SPTE)) {
      return false;
    }
    slot.flushTlb();
    slot.releaseLocked(Spte.FROZEN_SPTE, Spte.SHADOW_NONPRESENT_VALUE);
    return true;
  }

  /**
   * Under the write lock the TDP MMU writes the non-present value directly
   * ({@code tdp_mmu_iter_set_spte}) and leaves the flush to the caller.
   */
  @Override
  public boolean zapExclusive(EntrySlot slot, long expected) {
    slot.write(Spte.SHADOW_NONPRESENT_VALUE);
    return true;
  }

  @Override
  public boolean tryUpdateLeaf(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  @Override
  public long retireUnlinkedEntry(EntrySlot slot) {
    return slot.exchange(Spte.FROZEN_SPTE);
  }
}
