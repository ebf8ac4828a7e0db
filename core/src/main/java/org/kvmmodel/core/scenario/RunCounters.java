package org.kvmmodel.core.scenario;

import java.util.LinkedHashMap;
import java.util.Map;
import org.kvmmodel.core.trace.TraceListener;
import org.kvmmodel.core.trace.Tracepoint;

/** Counts what a run did, from its events: faults, retries, SPTE writes, flushes, locks. */
public final class RunCounters implements TraceListener {

  private long accesses;
  private long faults;
  private long retries;
  private long spteWrites;
  private long flushes;
  private long lockAcquisitions;
  private long invalidations;
  private long foliosDirtied;

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    switch (tp) {
      case GUEST_ACCESS:
        accesses++;
        break;
      case KVM_PAGE_FAULT:
        faults++;
        break;
      case MMU_INVALIDATE_RETRY:
        retries += c;
        break;
      case SPTE_CHANGED:
        spteWrites++;
        break;
      case FLUSH_REMOTE_TLBS:
        flushes++;
        break;
      case MMU_LOCK:
        lockAcquisitions++;
        break;
      case INVALIDATE_RANGE_START:
        invalidations++;
        break;
      case FOLIO_MARK_DIRTY:
        foliosDirtied++;
        break;
      default:
        break;
    }
  }

  /** The counters in report order. */
  public synchronized Map<String, Long> asMap() {
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("guest-accesses", accesses);
    m.put("faults", faults);
    m.put("retry-checks-failed", retries);
    m.put("spte-writes", spteWrites);
    m.put("tlb-flushes", flushes);
    m.put("mmu-lock-acquisitions", lockAcquisitions);
    m.put("invalidations", invalidations);
    m.put("folios-dirtied", foliosDirtied);
    return m;
  }
}
