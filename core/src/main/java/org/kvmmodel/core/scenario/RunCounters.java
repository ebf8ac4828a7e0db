package org.kvmmodel.core.scenario;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.trace.TraceListener;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * Counts what a run did, from its events: faults, retries, SPTE writes, flushes, locks, folios
 * dirtied and cleaned, read faults given a writable pfn, dirty-log harvests and clears (and the
 * clears KVM refused).
 */
public final class RunCounters implements TraceListener {

  private long accesses;
  private long faults;
  private long retries;
  private long spteWrites;
  private long flushes;
  private long lockAcquisitions;
  private long invalidations;
  private long foliosDirtied;
  private long foliosCleaned;
  private long harvests;
  private long clears;
  private long clearsRefused;
  private long readFaultsGivenWritable;
  private boolean[] inReadFault = new boolean[8];

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    switch (tp) {
      case GUEST_ACCESS:
        accesses++;
        break;
      case KVM_PAGE_FAULT:
        faults++;
        if (actor >= inReadFault.length) {
          inReadFault = Arrays.copyOf(inReadFault, Math.max(actor + 1, inReadFault.length * 2));
        }
        inReadFault[actor] = (b & GuestAccess.WRITE) == 0;
        break;
      case KVM_FAULTIN_PFN:
        if (c != 0 && actor < inReadFault.length && inReadFault[actor]) {
          readFaultsGivenWritable++;
        }
        break;
      case FOLIO_CLEAR_DIRTY_FOR_IO:
        foliosCleaned++;
        break;
      case GET_DIRTY_LOG_DONE:
        harvests++;
        break;
      case CLEAR_DIRTY_LOG_DONE:
        clears++;
        clearsRefused += b != 0 ? 1 : 0;
        break;
      case MMU_INVALIDATE_RETRY:
        retries += c;
        break;
      case SPTE_CHANGED:
        spteWrites++;
        break;
      case FLUSH_REMOTE_TLBS:
      case FLUSH_REMOTE_TLBS_RANGE:
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
    m.put("folios-cleaned", foliosCleaned);
    m.put("read-faults-given-writable", readFaultsGivenWritable);
    m.put("dirty-log-harvests", harvests);
    m.put("dirty-log-clears", clears);
    m.put("dirty-log-clears-refused", clearsRefused);
    return m;
  }
}
