package org.kvmmodel.core.check;

import java.util.HashMap;
import java.util.Map;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.kvm.GfnToPfnCache;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.MmuInvalidate;
import org.kvmmodel.core.kvm.VmPageTables;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * NO-STALE-MAPPING: when KVM's {@code invalidate_range_start} returns, no stage-2 leaf in any
 * of the VM's tables maps the range (read from page-table memory); and while an invalidation is
 * in progress, no leaf becomes present inside its merged gfn range (a table entry linked
 * there maps nothing by itself). KVM's pfn caches are mappings too: when
 * {@code invalidate_range_start} returns, no cache whose hva is in the range is still valid,
 * and no write goes through a cache whose hva was invalidated after it was last refreshed.
 *
 * <p>Violation kinds: {@code leaf-after-invalidate-start},
 * {@code crossing-leaf-after-invalidate-start} (the leaf left is larger than its memslot holds,
 * so the range the notifier clipped to the memslot covered only part of it),
 * {@code pfn-cache-valid}, {@code mapped-during-invalidation},
 * {@code write-through-invalidated-cache}.
 */
public final class NoStaleMappingCheck extends Check {

  public static final String ID = "NO-STALE-MAPPING";

  public NoStaleMappingCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  /** Per pfn-cache hva page: the event that last made it valid and the last invalidation since. */
  private static final class CacheMapping {
    long refreshed;
    long invalidated = -1;
  }

  private final Map<Long, CacheMapping> caches = new HashMap<>();
  /** Which rule judged. */
  private final Facet rules = facet(Facet.of("rule", "leaves-at-invalidate-start",
      "pfn-cache-at-invalidate-start", "map-during-invalidation", "pfn-cache-write"));

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    if (tp == Tracepoint.INVALIDATE_RANGE_START_DONE) {
      judgeRange(seq, actor, a, b);
      judgeCaches(seq, actor, a, b);
    } else if (tp == Tracepoint.SPTE_CHANGED) {
      judgeInstall(seq, actor, a, b, c);
    } else if (tp == Tracepoint.GPC_REFRESHED) {
      caches.computeIfAbsent(pageOf(b), h -> new CacheMapping()).refreshed = seq;
      caches.get(pageOf(b)).invalidated = -1;
    } else if (tp == Tracepoint.GPC_WRITE) {
      judgeCacheWrite(seq, actor, a, b, c);
    }
  }

  private long pageOf(long hva) {
    return hva & -(1L << kvm.pageShift());
  }

  /**
   * When invalidate_range_start returns, no pfn cache whose hva lies in the range may still be
   * valid: {@code gfn_to_pfn_cache_invalidate_start} clears it before mmu_lock is taken, and a
   * refresh cannot complete while the invalidation is active.
   */
  private void judgeCaches(long seq, int actor, long start, long end) {
    for (GfnToPfnCache gpc : kvm.pfnCaches().active()) {
      long uhva = gpc.uhva();
      if (uhva == GfnToPfnCache.HVA_ERR_BAD || uhva < start || uhva >= end) {
        continue;
      }
      judged();
      rules.hit(1);
      CacheMapping m = caches.get(pageOf(uhva));
      if (m != null) {
        m.invalidated = seq;
      }
      if (gpc.valid()) {
        fail(seq, actor, "pfn-cache-valid",
            "gfn_to_pfn_cache of gpa %#x (hva %#x, pfn %#x) is still valid when"
                + " invalidate_range_start of [%#x, %#x) returns",
            gpc.gpa(), uhva, gpc.khvaPfn(), start, end);
      }
    }
  }

  /** A write through a pfn cache must use a mapping made after the last invalidation of its hva. */
  private void judgeCacheWrite(long seq, int actor, long gfn, long pfn, long uhva) {
    judged();
    rules.hit(3);
    CacheMapping m = caches.get(pageOf(uhva));
    if (m != null && m.invalidated > m.refreshed) {
      fail(seq, actor, "write-through-invalidated-cache",
          "KVM wrote gfn %#x through a gfn_to_pfn_cache into pfn %#x, but the cache's hva %#x"
              + " was invalidated at event %d after the cache was refreshed at event %d",
          gfn, pfn, uhva, m.invalidated, m.refreshed);
    }
  }

  private void judgeRange(long seq, int actor, long start, long end) {
    for (int as = 0; as < kvm.memslots().addressSpaces(); as++) {
      for (KvmMemslot s : kvm.memslots().active(as).overlappingHva(start, end)) {
        MemorySlot slot = s.slot();
        long gfnStart = slot.hvaToGfn(Math.max(start, slot.userspaceAddr()));
        long gfnEnd = slot.hvaToGfn(Math.min(end, slot.userspaceEnd()) + slot.pageSize() - 1);
        judged();
        rules.hit(0);
        for (RadixPageTable table : kvm.pageTablePages().pageTables()) {
          PageTableCursor cursor = table.newCursor(Stage2Leaves.READ_ONLY);
          long stale = cursor.findLeaf(gfnStart, gfnEnd);
          if (stale < 0) {
            continue;
          }
          cursor.walk(stale);
          long pages = Stage2Leaves.pagesAt(table.format(), cursor.level());
          if (stale < slot.baseGfn() || stale + pages > slot.endGfn()) {
            fail(seq, actor, "crossing-leaf-after-invalidate-start",
                "invalidate_range_start returned while a %d-page leaf at gfn %#x, which crosses"
                    + " the bounds of memslot %d, still maps hva %#x at stage 2",
                pages, stale, slot.id(), slot.gfnToHva(Math.max(stale, gfnStart)));
          } else {
            fail(seq, actor, "leaf-after-invalidate-start",
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
    rules.hit(2);
    if (Stage2Leaves.isLeaf(format, value, level) && !Stage2Leaves.isLeaf(format, old, level)) {
      fail(seq, actor, "mapped-during-invalidation",
          "gfn %#x became mapped while an invalidation of [%#x, %#x) was in progress",
          gfn, start, inv.rangeEnd());
    }
  }
}
