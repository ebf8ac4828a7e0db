package org.kvmmodel.core.check;

import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.MmuInvalidate;
import org.kvmmodel.core.kvm.VmPageTables;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * NO-STALE-MAPPING: when KVM's {@code invalidate_range_start} returns, no stage-2 leaf in any
 * of the VM's tables maps the range (read from page-table memory); and while an invalidation is
 * in progress, no leaf becomes present inside its merged gfn range (a table entry linked
 * there maps nothing by itself).
 */
public final class NoStaleMappingCheck extends Check {

  public static final String ID = "NO-STALE-MAPPING";

  public NoStaleMappingCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    if (tp == Tracepoint.INVALIDATE_RANGE_START_DONE) {
      judgeRange(seq, actor, a, b);
    } else if (tp == Tracepoint.SPTE_CHANGED) {
      judgeInstall(seq, actor, a, b, c);
    }
  }

  private void judgeRange(long seq, int actor, long start, long end) {
    for (int as = 0; as < kvm.memslots().addressSpaces(); as++) {
      for (KvmMemslot s : kvm.memslots().active(as).overlappingHva(start, end)) {
        MemorySlot slot = s.slot();
        long gfnStart = slot.hvaToGfn(Math.max(start, slot.userspaceAddr()));
        long gfnEnd = slot.hvaToGfn(Math.min(end, slot.userspaceEnd()) + MemorySlot.PAGE_SIZE - 1);
        judged();
        for (RadixPageTable table : kvm.pageTablePages().pageTables()) {
          PageTableCursor cursor = table.newCursor(Stage2Leaves.READ_ONLY);
          long stale = cursor.findLeaf(gfnStart, gfnEnd);
          if (stale >= 0) {
            fail(seq, actor,
                "invalidate_range_start returned while gfn %#x (hva %#x) is still mapped at"
                    + " stage 2", stale, slot.gfnToHva(stale));
          }
        }
      }
    }
  }

  /**
   * A leaf that becomes present over any part of an in-progress invalidation's range is a
   * mapping installed against it. Linking a table is not: a fault for a gfn outside the range
   * may link a table whose span includes it.
   */
  private void judgeInstall(long seq, int actor, long gfn, long old, long value) {
    MmuInvalidate inv = kvm.invalidate();
    if (inv.inProgress() == 0 || kvm.pageTablePages().pageTables().isEmpty()) {
      return;
    }
    long start = inv.rangeStart();
    if (start == MmuInvalidate.INVALID_GFN) {
      return;
    }
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = kvm.pageTablePages().lastWriteLevel();
    long pages = Stage2Leaves.pagesAt(format, level);
    if (gfn + pages <= start || gfn >= inv.rangeEnd()) {
      return;
    }
    judged();
    if (Stage2Leaves.isLeaf(format, value, level) && !Stage2Leaves.isLeaf(format, old, level)) {
      fail(seq, actor,
          "gfn %#x became mapped while an invalidation of [%#x, %#x) was in progress",
          gfn, start, inv.rangeEnd());
    }
  }
}
