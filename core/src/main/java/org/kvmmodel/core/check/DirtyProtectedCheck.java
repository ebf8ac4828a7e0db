package org.kvmmodel.core.check;

import java.util.Arrays;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * DIRTY-PROTECTED: KVM marks a folio dirty only with mmu_lock held, on a path whose retry
 * check passed under that same hold of mmu_lock after a snapshot of the invalidation sequence
 * taken before faultin ({@code kvm_release_faultin_page} on the slow path), or when unmapping a
 * page it pinned. Judged at every {@code folio_mark_dirty} KVM does, from the actor's own
 * sequence of events.
 *
 * <p>Violation kinds: {@code no-mmu-lock}, {@code retry-fired}, {@code no-retry-passed}.
 */
public final class DirtyProtectedCheck extends Check {

  public static final String ID = "DIRTY-PROTECTED";

  private long holds;
  private long[] snapshotSeq = new long[8];
  private long[] snapshotEvent = new long[8];
  private long[] faultinEvent = new long[8];
  private long[] holdId = new long[8];
  private boolean[] holding = new boolean[8];
  private long[] passedHold = new long[8];
  private long[] failedHold = new long[8];
  /** Per actor: 0 outside a guest fault, else 1 + whether the fault is a write. */
  private int[] inFault = new int[8];
  /** The folios dirtied inside guest faults: their backing × the fault's access. */
  private final Facet dirtied =
      facet(Facet.of("backing", Backing.labels(Backing.ANON, Backing.ANON_THP, Backing.HUGETLB,
          Backing.FILE), "fault", new String[] {"read", "write"}));

  public DirtyProtectedCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  private void ensure(int actor) {
    if (actor >= holding.length) {
      int n = Math.max(actor + 1, holding.length * 2);
      snapshotSeq = Arrays.copyOf(snapshotSeq, n);
      snapshotEvent = Arrays.copyOf(snapshotEvent, n);
      faultinEvent = Arrays.copyOf(faultinEvent, n);
      holdId = Arrays.copyOf(holdId, n);
      holding = Arrays.copyOf(holding, n);
      passedHold = Arrays.copyOf(passedHold, n);
      failedHold = Arrays.copyOf(failedHold, n);
      inFault = Arrays.copyOf(inFault, n);
    }
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case KVM_PAGE_FAULT:
        inFault[actor] = 1 + ((b & GuestAccess.WRITE) != 0 ? 1 : 0);
        break;
      case KVM_PAGE_FAULT_DONE:
        inFault[actor] = 0;
        break;
      case MMU_INVALIDATE_SEQ:
        snapshotSeq[actor] = a;
        snapshotEvent[actor] = seq + 1;
        faultinEvent[actor] = 0;
        break;
      case KVM_FAULTIN_PFN:
        if (snapshotEvent[actor] != 0) {
          faultinEvent[actor] = seq + 1;
        }
        break;
      case MMU_LOCK:
        holding[actor] = true;
        holdId[actor] = ++holds;
        break;
      case MMU_UNLOCK:
        holding[actor] = false;
        break;
      case MMU_INVALIDATE_RETRY:
        if (!holding[actor]) {
          break;
        }
        if (c != 0) {
          failedHold[actor] = holdId[actor];
        } else if (b == snapshotSeq[actor]
            && snapshotEvent[actor] != 0
            && faultinEvent[actor] > snapshotEvent[actor]) {
          passedHold[actor] = holdId[actor];
        }
        break;
      case FOLIO_MARK_DIRTY:
        judgeDirty(seq, actor, a, c != 0);
        break;
      default:
        break;
    }
  }

  private void judgeDirty(long seq, int actor, long page, boolean pinnedUnmap) {
    judged();
    Backing backing = Backing.of(kvm.memory(), page);
    if (inFault[actor] != 0 && backing.ordinal() <= Backing.FILE.ordinal()) {
      dirtied.hit(backing.ordinal(), inFault[actor] - 1);
    }
    if (pinnedUnmap) {
      return;
    }
    if (!holding[actor]) {
      fail(seq, actor, "no-mmu-lock", "folio %#x marked dirty without mmu_lock held", page);
    } else if (passedHold[actor] != holdId[actor]) {
      if (failedHold[actor] == holdId[actor]) {
        fail(seq, actor, "retry-fired",
            "folio %#x marked dirty under mmu_lock after the retry check failed"
                + " (the invalidation sequence moved since the snapshot)", page);
      } else {
        fail(seq, actor, "no-retry-passed",
            "folio %#x marked dirty under mmu_lock with no retry check passed under this hold"
                + " of mmu_lock after a snapshot taken before faultin", page);
      }
    }
  }
}
