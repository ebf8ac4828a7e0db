package org.kvmmodel.arch.riscv;

import org.kvmmodel.api.pt.EntrySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * The G-stage table as KVM 6.13 changes it ({@code arch/riscv/kvm/mmu.c}). Every software
 * change happens with the mmu_lock spinlock held, so entries are written with plain stores
 * ({@code set_pte}) and a leaf's translation is flushed right after it is written, one leaf at
 * a time ({@code gstage_remote_tlb_flush} in {@code gstage_set_pte} and
 * {@code gstage_op_pte}):
 * <ul>
 *   <li>install and replace: store, then flush when the new entry is a leaf;
 *   <li>zap ({@code GSTAGE_OP_CLEAR}): store 0, then flush when it was a leaf; the entries of
 *       a table cleared this way are cleared and flushed one by one;
 *   <li>attribute updates (aging's {@code ptep_test_and_clear_young}, write protection's
 *       {@code GSTAGE_OP_WP}): one atomic update, since Svadu hardware may set A or D in the
 *       same entry meanwhile; the caller flushes write protection.
 * </ul>
 */
final class GstagePageTableFormat implements PageTableFormat {

  private final GstageMode mode;
  private final PageTableGeometry geometry;

  GstagePageTableFormat(GstageMode mode) {
    this.mode = mode;
    this.geometry = mode.geometry();
  }

  GstageMode mode() {
    return mode;
  }

  @Override
  public PageTableGeometry geometry() {
    return geometry;
  }

  @Override
  public long emptyEntry(int level) {
    return 0;
  }

  @Override
  public boolean isPresent(long entry, int level) {
    return entry != 0;
  }

  @Override
  public boolean isLeaf(long entry, int level) {
    return GstagePte.isLeaf(entry);
  }

  @Override
  public boolean isLocked(long entry, int level) {
    return false;
  }

  @Override
  public long outputAddress(long entry, int level) {
    return GstagePte.pfn(entry) << GstageMode.PAGE_SHIFT;
  }

  /** {@code pfn_pte(PFN_DOWN(__pa(next_ptep)), __pgprot(_PAGE_TABLE))}. */
  @Override
  public long makeTable(long childPhysicalAddress, int level) {
    return GstagePte.pfnPte(childPhysicalAddress >>> GstageMode.PAGE_SHIFT, GstagePte.PAGE_TABLE);
  }

  /** The same attributes with the frame advanced by {@code index} child-sized pages. */
  @Override
  public long makeSplitChild(long hugeEntry, int hugeLevel, int index) {
    long childPages = 1L << (GstageMode.INDEX_BITS * (hugeLevel - 1));
    long pfn = GstagePte.pfn(hugeEntry) + index * childPages;
    return (hugeEntry & ~GstagePte.PFN_MASK) | GstagePte.pfnPte(pfn, 0);
  }

  @Override
  public boolean isYoung(long entry, int level) {
    return GstagePte.isYoung(entry);
  }

  /** {@code ptep_test_and_clear_young}: clear A. */
  @Override
  public long makeOld(long entry, int level) {
    return entry & ~GstagePte.A;
  }

  /** {@code GSTAGE_OP_WP}: clear W; D stays. */
  @Override
  public long makeWriteProtected(long entry, int level) {
    return entry & ~GstagePte.W;
  }

  @Override
  public boolean tryInstall(EntrySlot slot, long expected, long value) {
    return store(slot, value);
  }

  @Override
  public boolean tryReplace(EntrySlot slot, long expected, long value) {
    return store(slot, value);
  }

  /** {@code set_pte} then, for a leaf, {@code gstage_remote_tlb_flush} of its range. */
  private static boolean store(EntrySlot slot, long value) {
    slot.write(value);
    if (GstagePte.isLeaf(value)) {
      slot.flushTlb();
    }
    return true;
  }

  @Override
  public boolean tryZap(EntrySlot slot, long expected) {
    slot.write(0);
    if (GstagePte.isLeaf(expected)) {
      slot.flushTlb();
    }
    return true;
  }

  @Override
  public boolean tryUpdateLeaf(EntrySlot slot, long expected, long value) {
    return slot.compareAndSet(expected, value);
  }

  /** {@code gstage_op_pte} recursing into a cleared table: clear each entry, flush leaves. */
  @Override
  public long retireUnlinkedEntry(EntrySlot slot) {
    long old = slot.read();
    if (old != 0) {
      tryZap(slot, old);
    }
    return old;
  }
}
