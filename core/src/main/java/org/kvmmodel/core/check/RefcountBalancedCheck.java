package org.kvmmodel.core.check;

import java.util.Map;
import java.util.TreeMap;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * REFCOUNT-BALANCED: every reference or pin KVM takes through {@code kvm_follow_pfn} is dropped
 * exactly once, and PFNMAP/IO pfns are never referenced. Releases are judged as they happen;
 * what is still held is judged at the end of the run.
 */
public final class RefcountBalancedCheck extends Check {

  public static final String ID = "REFCOUNT-BALANCED";

  private final Map<Long, Integer> references = new TreeMap<>();
  private final Map<Long, Integer> pins = new TreeMap<>();

  public RefcountBalancedCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    switch (tp) {
      case KVM_GET_PAGE:
        if (!kvm.memory().pfnValid(a)) {
          fail(seq, actor, "a reference was taken on pfn %#x, which has no struct page", a);
        }
        (b != 0 ? pins : references).merge(a, 1, Integer::sum);
        break;
      case KVM_RELEASE_PAGE_CLEAN:
      case KVM_RELEASE_PAGE_DIRTY:
      case KVM_RELEASE_PAGE_UNUSED:
        drop(references, seq, actor, a, tp.kernelName(), "reference");
        break;
      case KVM_UNPIN_PAGE:
        drop(pins, seq, actor, a, "unpin_user_page", "pin");
        break;
      default:
        break;
    }
  }

  private void drop(Map<Long, Integer> held, long seq, int actor, long page, String how, String what) {
    judged();
    Integer n = held.get(page);
    if (n == null) {
      fail(seq, actor, "%s of folio %#x, on which KVM holds no %s (a double release)", how, page, what);
      return;
    }
    if (n == 1) {
      held.remove(page);
    } else {
      held.put(page, n - 1);
    }
  }

  @Override
  public synchronized void finish() {
    for (Map.Entry<Long, Integer> e : references.entrySet()) {
      fail(-1, kvm.log().currentActor(),
          "%d reference(s) to folio %#x taken through kvm_follow_pfn were never released",
          e.getValue(), e.getKey());
    }
    for (Map.Entry<Long, Integer> e : pins.entrySet()) {
      fail(-1, kvm.log().currentActor(), "%d pin(s) of folio %#x were never released",
          e.getValue(), e.getKey());
    }
  }
}
