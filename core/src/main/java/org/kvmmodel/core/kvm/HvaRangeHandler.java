package org.kvmmodel.core.kvm;

import java.util.List;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.sched.Srcu;

/**
 * {@code __kvm_handle_hva_range}: under SRCU, walk every address space's memslots that overlap
 * a host virtual range; the first overlapping slot takes mmu_lock (exclusive) and runs the
 * {@code on_lock} hook, then the handler runs once per slot on its gfn range. If requested and
 * any handler asked for it, remote TLBs are flushed before mmu_lock is dropped. When no slot
 * overlaps, mmu_lock is never taken.
 */
final class HvaRangeHandler {

  /** A per-slot handler ({@code gfn_handler_t}); returns whether a flush is needed / young. */
  @FunctionalInterface
  interface GfnHandler {
    boolean handle(GfnRange range);
  }

  /** What a walk found: {@code struct kvm_mmu_notifier_return}. */
  record Result(boolean ret, boolean foundMemslot) {}

  private final KvmMemslots memslots;
  private final MmuLock mmuLock;
  private final Runnable flushRemoteTlbs;

  HvaRangeHandler(KvmMemslots memslots, MmuLock mmuLock, Runnable flushRemoteTlbs) {
    this.memslots = memslots;
    this.mmuLock = mmuLock;
    this.flushRemoteTlbs = flushRemoteTlbs;
  }

  /**
   * Runs {@code handler} (null for none: then only {@code onLock} runs, once) over the slots
   * overlapping {@code [start, end)}.
   */
  Result handle(
      long start, long end, Runnable onLock, GfnHandler handler, boolean flushOnRet, boolean mayBlock) {
    if (end <= start) {
      throw new IllegalArgumentException("empty hva range");
    }
    if (onLock == null && handler == null) {
      throw new IllegalArgumentException("a null handler needs an on_lock hook");
    }
    boolean ret = false;
    boolean found = false;
    Srcu srcu = memslots.srcu();
    int idx = srcu.readLock();
    try {
      outer:
      for (int as = 0; as < memslots.addressSpaces(); as++) {
        List<KvmMemslot> slots = memslots.active(as).overlappingHva(start, end);
        for (KvmMemslot s : slots) {
          MemorySlot slot = s.slot();
          long hvaStart = Math.max(start, slot.userspaceAddr());
          long hvaEnd = Math.min(end, slot.userspaceEnd());
          GfnRange range =
              new GfnRange(
                  slot,
                  slot.hvaToGfn(hvaStart),
                  slot.hvaToGfn(hvaEnd + slot.pageSize() - 1),
                  mayBlock);
          if (!found) {
            found = true;
            mmuLock.lock();
            if (onLock != null) {
              onLock.run();
            }
            if (handler == null) {
              break outer;
            }
          }
          ret |= handler.handle(range);
        }
      }
      if (flushOnRet && ret) {
        flushRemoteTlbs.run();
      }
    } finally {
      if (found) {
        mmuLock.unlock();
      }
      srcu.readUnlock(idx);
    }
    return new Result(ret, found);
  }
}
