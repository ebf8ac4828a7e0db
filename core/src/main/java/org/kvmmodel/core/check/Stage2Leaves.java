package org.kvmmodel.core.check;

import java.util.function.LongConsumer;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.WalkControl;
import org.kvmmodel.core.kvm.KvmInstance;

/**
 * What the VM's stage-2 tables say about a gfn, read from page-table memory with the format's
 * own predicates: the leaf that maps it, whether that leaf lets a write through (making it
 * write-protected would change it) and the pfn it gives the gfn. The checks' only view of the
 * tables, and the one scenarios judge their expectations with.
 */
public final class Stage2Leaves {

  /** The walk control of a check's cursor: it only walks. */
  public static final WalkControl READ_ONLY =
      new WalkControl() {
        @Override
        public boolean shouldYield() {
          return false;
        }

        @Override
        public void yieldLock() {
          throw new IllegalStateException("a read-only check walk never yields");
        }

        @Override
        public void flushTlbs() {
          throw new IllegalStateException("a read-only check walk never flushes");
        }

        @Override
        public void flushTlbRange(long gfn, long pages) {
          throw new IllegalStateException("a read-only check walk never flushes");
        }
      };

  private Stage2Leaves() {}

  /** Whether {@code entry} is a present leaf at {@code level}. */
  public static boolean isLeaf(PageTableFormat format, long entry, int level) {
    return format.isPresent(entry, level) && format.isLeaf(entry, level);
  }

  /** Whether {@code entry} is a present leaf that lets a write through. */
  public static boolean isWritableLeaf(PageTableFormat format, long entry, int level) {
    return isLeaf(format, entry, level) && format.makeWriteProtected(entry, level) != entry;
  }

  /**
   * Hands {@code visitor} each gfn of {@code [start, end)} that a writable leaf of any of the
   * VM's tables maps, stepping over whole leaves and empty entries.
   */
  static void forEachWritableGfn(KvmInstance kvm, long start, long end, LongConsumer visitor) {
    for (RadixPageTable table : kvm.pageTablePages().pageTables()) {
      PageTableCursor cursor = table.newCursor(READ_ONLY);
      PageTableFormat format = table.format();
      long gfn = start;
      while (gfn < end) {
        boolean leaf = cursor.walk(gfn);
        int level = cursor.level();
        long span = pagesAt(format, level);
        long next = (gfn & -span) + span;
        if (leaf && isWritableLeaf(format, cursor.entry(), level)) {
          for (long g = gfn; g < Math.min(next, end); g++) {
            visitor.accept(g);
          }
        }
        gfn = next;
      }
    }
  }

  /** Guest frames a leaf at {@code level} maps. */
  static long pagesAt(PageTableFormat format, int level) {
    return format.geometry().leafPages(level);
  }

  /** What one table has for a gfn. */
  enum Mapping {
    /** No present leaf maps the gfn. */
    NONE,
    /** A leaf maps the gfn to another pfn. */
    OTHER_PFN,
    /** A leaf maps the gfn to the pfn, without write permission. */
    READ_ONLY,
    /** A writable leaf maps the gfn to the pfn. */
    WRITABLE
  }

  /**
   * The best any of the VM's tables does for {@code gfn} translated to {@code pfn}; a TLB may
   * legitimately have been filled through any root that still exists.
   */
  static Mapping lookup(KvmInstance kvm, long gfn, long pfn, long[] leafPfn) {
    Mapping best = Mapping.NONE;
    for (RadixPageTable table : kvm.pageTablePages().pageTables()) {
      PageTableCursor cursor = table.newCursor(READ_ONLY);
      if (!cursor.walk(gfn)) {
        continue;
      }
      PageTableFormat format = table.format();
      int level = cursor.level();
      long pages = pagesAt(format, level);
      long mapped =
          (format.outputAddress(cursor.entry(), level) >>> kvm.pageShift()) + (gfn & (pages - 1));
      Mapping m =
          mapped != pfn
              ? Mapping.OTHER_PFN
              : isWritableLeaf(format, cursor.entry(), level) ? Mapping.WRITABLE : Mapping.READ_ONLY;
      if (m.ordinal() > best.ordinal()) {
        best = m;
        leafPfn[0] = mapped;
      }
    }
    return best;
  }
}
