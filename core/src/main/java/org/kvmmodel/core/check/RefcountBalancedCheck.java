package org.kvmmodel.core.check;

import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * REFCOUNT-BALANCED: every reference or pin KVM takes through {@code kvm_follow_pfn} is dropped
 * exactly once, and PFNMAP/IO pfns are never referenced. Releases are judged as they happen;
 * what is still held is judged at the end of the run, and so, if the VM was torn down, are its
 * page-table pages and the folios it touched.
 *
 * <p>Violation kinds: {@code reference-without-page}, {@code double-release},
 * {@code reference-leaked}, {@code pin-leaked}, {@code table-leaked},
 * {@code folio-not-at-baseline}.
 */
public final class RefcountBalancedCheck extends Check {

  public static final String ID = "REFCOUNT-BALANCED";

  /** Per folio: references held (a count of zero is a folio no longer held). */
  private final LongMap<int[]> references = new LongMap<>();
  /** Per folio: pins held, likewise. */
  private final LongMap<int[]> pins = new LongMap<>();
  /** Folio heads KVM ever referenced. */
  private final LongMap<Boolean> touched = new LongMap<>();
  private long destroyed = -1;
  private int destroyer;
  private long liveTables;
  /** What was judged: a release of a reference or pin, or the VM's teardown. */
  private final Facet events = facet(Facet.of("event", "release", "teardown"));

  public RefcountBalancedCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    switch (tp) {
      case KVM_GET_PAGE:
        if (!kvm.memory().pfnValid(a)) {
          fail(seq, actor, "reference-without-page", "a reference was taken on pfn %#x, which has no struct page", a);
        } else {
          touched.put(kvm.memory().folioHead(a), Boolean.TRUE);
        }
        take(b != 0 ? pins : references, a);
        break;
      case KVM_RELEASE_PAGE_CLEAN:
      case KVM_RELEASE_PAGE_DIRTY:
      case KVM_RELEASE_PAGE_UNUSED:
        drop(references, seq, actor, a, tp.kernelName(), "reference");
        break;
      case KVM_UNPIN_PAGE:
        drop(pins, seq, actor, a, "unpin_user_page", "pin");
        break;
      case KVM_DESTROY_VM_DONE:
        destroyed = seq;
        destroyer = actor;
        liveTables = a;
        break;
      default:
        break;
    }
  }

  private static void take(LongMap<int[]> held, long page) {
    int[] n = held.get(page);
    if (n == null) {
      held.put(page, new int[] {1});
    } else {
      n[0]++;
    }
  }

  private void drop(LongMap<int[]> held, long seq, int actor, long page, String how, String what) {
    judged();
    events.hit(0);
    int[] n = held.get(page);
    if (n == null || n[0] == 0) {
      fail(seq, actor, "double-release", "%s of folio %#x, on which KVM holds no %s (a double release)", how, page, what);
      return;
    }
    n[0]--;
  }

  /**
   * After {@code kvm_destroy_vm} (and the VMM's exit, which the run ends with): every stage-2
   * table page is freed, and every folio KVM ever referenced is back to what the host alone
   * accounts for: no pin, and one reference per page-table mapping plus the page cache's own
   * (folio_expected_ref_count of an idle folio) plus, for a hwpoisoned folio, the one
   * {@code memory_failure} took to keep it out of use for good, or free.
   */
  private void judgeTeardown() {
    judged();
    events.hit(1);
    if (liveTables != 0) {
      fail(destroyed, destroyer, "table-leaked",
          "%d stage-2 page-table page(s) were still allocated after kvm_destroy_vm", liveTables);
    }
    HostMemory memory = kvm.memory();
    for (long pfn : touched.sortedKeys()) {
      if (memory.isReserved(pfn) || memory.refcount(pfn) == 0) {
        continue;
      }
      int expected = memory.mapcount(pfn) + (memory.isAnon(pfn) ? 0 : 1)
          + (memory.isHwpoison(pfn) ? 1 : 0);
      if (memory.pincount(pfn) != 0 || memory.refcount(pfn) != expected) {
        fail(destroyed, destroyer, "folio-not-at-baseline",
            "after VM teardown folio %#x has refcount %d and pincount %d; the host alone accounts"
                + " for refcount %d and no pin", pfn, memory.refcount(pfn), memory.pincount(pfn),
            expected);
      }
    }
  }

  @Override
  public synchronized void finish() {
    if (destroyed >= 0) {
      judgeTeardown();
    }
    failStillHeld(references, "reference-leaked",
        "%d reference(s) to folio %#x taken through kvm_follow_pfn were never released");
    failStillHeld(pins, "pin-leaked", "%d pin(s) of folio %#x were never released");
  }

  /** One violation per folio still held, in pfn order: {@code message} takes count and pfn. */
  private void failStillHeld(LongMap<int[]> held, String kind, String message) {
    for (long page : held.sortedKeys()) {
      int n = held.get(page)[0];
      if (n != 0) {
        fail(-1, kvm.log().currentActor(), kind, message, n, page);
      }
    }
  }
}
