package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.api.kvm.GfnRange;
import org.kvmmodel.api.kvm.MmuLock;
import org.kvmmodel.core.sched.Srcu;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.KvmCallSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * KVM's mmu_notifier subscription ({@code kvm_mmu_notifier_ops} in {@code virt/kvm/kvm_main.c}),
 * in terms of host virtual ranges: what each callback does before taking mmu_lock, under it,
 * and whether it flushes, as in the table of section 1.9 of the reference.
 */
public final class KvmMmuNotifier {

  /** A hook run at invalidate_range_start before mmu_lock ({@code gfn_to_pfn_cache}). */
  @FunctionalInterface
  public interface InvalidateStartListener {
    void invalidateStart(long start, long end);
  }

  private final HvaRangeHandler handler;
  private final MmuInvalidate invalidate;
  private final MnActiveInvalidations mnActive;
  private final ArchMmu arch;
  private final boolean elideFlushIfYoung;
  private final Srcu srcu;
  private final InvalidateStartListener pfnCaches;
  private final EventLog log;

  public KvmMmuNotifier(
      KvmMemslots memslots,
      MmuLock mmuLock,
      MmuInvalidate invalidate,
      MnActiveInvalidations mnActive,
      ArchMmu arch,
      Runnable flushRemoteTlbs,
      boolean elideFlushIfYoung,
      InvalidateStartListener pfnCaches,
      EventLog log) {
    this.log = log;
    this.handler = new HvaRangeHandler(memslots, mmuLock, flushRemoteTlbs);
    this.invalidate = invalidate;
    this.mnActive = mnActive;
    this.arch = arch;
    this.elideFlushIfYoung = elideFlushIfYoung;
    this.srcu = memslots.srcu();
    this.pfnCaches = pfnCaches;
  }

  /**
   * {@code kvm_mmu_notifier_invalidate_range_start}: count the invalidation, invalidate pfn
   * caches, then under mmu_lock begin the invalidation, add each slot's gfn range and unmap it
   * through the arch, flushing before unlock if the arch asks. Always 0 in 6.13.
   */
  public int invalidateRangeStart(long start, long end, boolean blockable) {
    return KvmCallSites.call(log, KvmCallSite.INVALIDATE_RANGE_START, start, () -> {
      log.emit(Tracepoint.INVALIDATE_RANGE_START, start, end, 0);
      mnActive.begin();
      pfnCaches.invalidateStart(start, end);
      handler.handle(start, end, invalidate::begin, this::unmapGfnRange, true, blockable);
      log.emit(Tracepoint.INVALIDATE_RANGE_START_DONE, start, end, 0);
      return 0;
    });
  }

  /** {@code kvm_mmu_unmap_gfn_range}. */
  private boolean unmapGfnRange(GfnRange range) {
    invalidate.rangeAdd(range.start(), range.end());
    return arch.unmapGfnRange(range);
  }

  /**
   * {@code kvm_mmu_notifier_invalidate_range_end}: end the invalidation under mmu_lock (only if a
   * slot overlaps), then drop the active count and wake a waiting memslot update.
   */
  public void invalidateRangeEnd(long start, long end, boolean blockable) {
    log.emit(Tracepoint.INVALIDATE_RANGE_END, start, end, 0);
    handler.handle(start, end, invalidate::end, null, false, blockable);
    mnActive.end();
    log.emit(Tracepoint.INVALIDATE_RANGE_END_DONE, start, end, 0);
  }

  /** {@code kvm_mmu_notifier_clear_flush_young}: age, flush unless the arch elides it. */
  public boolean clearFlushYoung(long start, long end) {
    return handler.handle(start, end, null, arch::ageGfn, !elideFlushIfYoung, false).ret();
  }

  /** {@code kvm_mmu_notifier_clear_young}: age without a flush. */
  public boolean clearYoung(long start, long end) {
    return handler.handle(start, end, null, arch::ageGfn, false, false).ret();
  }

  /** {@code kvm_mmu_notifier_test_young}: one page, nothing changed. */
  public boolean testYoung(long address) {
    return handler.handle(address, address + 1, null, arch::testAgeGfn, false, false).ret();
  }

  /** {@code kvm_mmu_notifier_release}: {@code kvm_flush_shadow_all} under SRCU. */
  public void release() {
    log.emit(Tracepoint.MMU_NOTIFIER_RELEASE, 0, 0, 0);
    int idx = srcu.readLock();
    try {
      arch.flushShadowAll();
    } finally {
      srcu.readUnlock(idx);
    }
  }
}
