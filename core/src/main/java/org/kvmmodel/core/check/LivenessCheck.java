package org.kvmmodel.core.check;

import java.util.Arrays;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * LIVENESS, for guest faults: handling a fault must change the state that caused it, so a vCPU
 * whose access faults again and again at the same gpa, while nothing else that could make it
 * fault again happens, is livelocked (an arm64 relax-permission fault at the wrong level, a
 * spurious-fault path that fixes nothing). Judged at every guest fault from the vCPU's own
 * events: more than {@value #BOUND} faults of one access in a row, with no invalidation, memslot
 * update, dirty-log operation, retry-check failure, stage-2 change (by anyone, the handler
 * included), TLB flush or writeback in between and none of them in progress, is a violation. An access that
 * completes, or a fault that exits to userspace, ends the run of faults.
 *
 * <p>Violation kinds: {@code fault-livelock}.
 */
public final class LivenessCheck extends Check {

  public static final String ID = "LIVENESS";

  /** Faults of one access in a row, with nothing changing, that a correct handler never needs. */
  static final int BOUND = 16;

  private long epoch;
  /** Operations in progress that a fault may wait out (0 if one began before the check). */
  private int busy;
  private long[] faultGpa = new long[8];
  private long[] faultEpoch = new long[8];
  private int[] inARow = new int[8];
  /** Faults judged: the first of an access, or one more in a row of the same access. */
  private final Facet faults = facet(Facet.of("fault", "first", "again"));

  public LivenessCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  private void ensure(int actor) {
    if (actor >= inARow.length) {
      int n = Math.max(actor + 1, inARow.length * 2);
      faultGpa = Arrays.copyOf(faultGpa, n);
      faultEpoch = Arrays.copyOf(faultEpoch, n);
      inARow = Arrays.copyOf(inARow, n);
    }
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case INVALIDATE_RANGE_START:
      case SET_MEMORY_REGION:
      case GET_DIRTY_LOG:
      case CLEAR_DIRTY_LOG:
        busy++;
        epoch++;
        break;
      case INVALIDATE_RANGE_END_DONE:
      case SET_MEMORY_REGION_DONE:
      case GET_DIRTY_LOG_DONE:
      case CLEAR_DIRTY_LOG_DONE:
        busy = Math.max(0, busy - 1);
        epoch++;
        break;
      case FLUSH_REMOTE_TLBS:
      case FOLIO_CLEAR_DIRTY_FOR_IO:
      case SPTE_CHANGED:
        epoch++;
        break;
      case MMU_INVALIDATE_RETRY:
        epoch += c;
        break;
      case GUEST_ACCESS:
        inARow[actor] = 0;
        break;
      case KVM_PAGE_FAULT_DONE:
        if (b != 0) {
          inARow[actor] = 0;
        }
        break;
      case KVM_PAGE_FAULT:
        judgeFault(seq, actor, a);
        break;
      default:
        break;
    }
  }

  private void judgeFault(long seq, int actor, long gpa) {
    judged();
    boolean again = inARow[actor] > 0 && faultGpa[actor] == gpa;
    faults.hit(again ? 1 : 0);
    if (!again || busy > 0 || faultEpoch[actor] != epoch) {
      faultGpa[actor] = gpa;
      faultEpoch[actor] = epoch;
      inARow[actor] = 1;
      return;
    }
    if (++inARow[actor] == BOUND + 1) {
      fail(seq, actor, "fault-livelock",
          "%s faulted %d times in a row at gpa %#x with nothing changing in between: the fault"
              + " handler does not change the state that made the access fault",
          kvm.log().actorName(actor), inARow[actor], gpa);
    }
  }
}
