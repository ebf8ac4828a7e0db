package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * DIRTY-LOG-COMPLETE, the oracle of KVM's {@code dirty_log_test}: with dirty logging on, every
 * guest write is reported by KVM_GET_DIRTY_LOG no later than the first harvest that begins
 * after the write and after every fault that was in flight on its gfn when it landed has
 * returned (the fault that made the mapping writable logs the gfn before it returns, and a
 * harvest that clears the bit write-protects the entry and flushes before it returns, so a
 * later write faults again). A write is discharged by any harvest that reports its gfn after
 * the write landed. KVM's own writes ({@code kvm_write_guest}, writes through a pfn cache) are
 * judged the same way, their write call standing in for the fault: it logs the gfn before it
 * returns. Judged from guest and KVM writes, fault and write-call completion events, the start
 * and return of each harvest and the gfns its returned bitmap holds.
 */
public final class DirtyLogCompleteCheck extends Check {

  public static final String ID = "DIRTY-LOG-COMPLETE";

  private static final int MAX_ACTORS = 64;

  private static final class Write {
    final long gfn;
    final long seq;
    final boolean byKvm;
    long waitingFor;
    long deadline = -1;

    Write(long gfn, long seq, long waitingFor, boolean byKvm) {
      this.gfn = gfn;
      this.seq = seq;
      this.waitingFor = waitingFor;
      this.byKvm = byKvm;
    }
  }

  private final List<Write> pending = new ArrayList<>();
  private final long[] faultGfn = new long[MAX_ACTORS];
  private final long[] harvestOf = new long[MAX_ACTORS];
  private long harvests;

  public DirtyLogCompleteCheck(KvmInstance kvm) {
    super(ID, kvm);
    Arrays.fill(faultGfn, -1);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    if (actor >= MAX_ACTORS) {
      throw new IllegalStateException(ID + " follows at most " + MAX_ACTORS + " actors");
    }
    switch (tp) {
      case KVM_PAGE_FAULT:
        faultGfn[actor] = a >>> kvm.pageShift();
        break;
      case KVM_PAGE_FAULT_DONE:
        faultReturned(actor, a >>> kvm.pageShift());
        break;
      case GUEST_ACCESS:
        if ((b & GuestAccess.WRITE) != 0) {
          guestWrite(seq, a >>> kvm.pageShift(), false);
        }
        break;
      case KVM_WRITE_GUEST:
      case GPC_WRITE:
        faultGfn[actor] = a;
        guestWrite(seq, a, true);
        break;
      case KVM_WRITE_GUEST_DONE:
        faultReturned(actor, a);
        break;
      case GET_DIRTY_LOG:
        harvestBegins(actor);
        break;
      case DIRTY_LOG_HARVESTED:
        reported(a);
        break;
      case GET_DIRTY_LOG_DONE:
        harvestReturns(seq, actor);
        break;
      default:
        break;
    }
  }

  private void faultReturned(int actor, long gfn) {
    faultGfn[actor] = -1;
    for (Write w : pending) {
      if (w.gfn == gfn) {
        w.waitingFor &= ~(1L << actor);
      }
    }
  }

  private void guestWrite(long seq, long gfn, boolean byKvm) {
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    if (slot == null || !slot.dirtyLogEnabled()) {
      return;
    }
    long waitingFor = 0;
    for (int actor = 0; actor < MAX_ACTORS; actor++) {
      if (faultGfn[actor] == gfn) {
        waitingFor |= 1L << actor;
      }
    }
    pending.add(new Write(gfn, seq, waitingFor, byKvm));
  }

  private void harvestBegins(int actor) {
    long id = ++harvests;
    harvestOf[actor] = id;
    for (Write w : pending) {
      if (w.deadline < 0 && w.waitingFor == 0) {
        w.deadline = id;
      }
    }
  }

  private void reported(long gfn) {
    for (Iterator<Write> it = pending.iterator(); it.hasNext(); ) {
      if (it.next().gfn == gfn) {
        judged();
        it.remove();
      }
    }
  }

  private void harvestReturns(long seq, int actor) {
    long id = harvestOf[actor];
    for (Iterator<Write> it = pending.iterator(); it.hasNext(); ) {
      Write w = it.next();
      if (w.deadline == id) {
        judged();
        it.remove();
        fail(seq, actor, "write-unreported",
            "%s to gfn %#x at event %d was not reported by KVM_GET_DIRTY_LOG harvest"
                + " #%d, the first to begin after it with no fault on the gfn in flight",
            w.byKvm ? "KVM write" : "guest write", w.gfn, w.seq, id);
      }
    }
  }
}
