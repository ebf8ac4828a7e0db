package org.kvmmodel.core.check;

import java.util.Arrays;
import java.util.Locale;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * LIVENESS. For guest faults: handling a fault must change the state that caused it, so a vCPU
 * whose access faults again and again at the same gpa, while nothing else that could make it
 * fault again happens, is livelocked (an arm64 relax-permission fault at the wrong level, a
 * spurious-fault path that fixes nothing). Judged at every guest fault from the vCPU's own
 * events: more than {@value #BOUND} faults of one access in a row, with no invalidation, memslot
 * update, dirty-log operation, retry-check failure, stage-2 change (by anyone, the handler
 * included), TLB flush after such a change, or writeback in between and none of them in
 * progress, is a violation (a flush with nothing changed since the last one drops no
 * translation the last one left). An access that completes, or a fault that exits to userspace,
 * ends the run of faults. Where stage 2 holds a present huge leaf for the gpa whose output frame
 * is not aligned to the leaf's size (which RISC-V's MMU, for one, refuses as a misaligned
 * superpage), the violation is named for it.
 *
 * <p>For invalidations: the zap of {@code kvm_mmu_notifier_invalidate_range_start} finishes
 * while vCPUs keep faulting in its range. It holds mmu_lock for the walk and drops it only to
 * yield, so every fault in its range that takes mmu_lock and retries before the zap is done took
 * it from the zap; more than {@value #BOUND} of them in one zap is a livelock of the invalidation, since
 * each re-fault contends again and a contended walk yields again (faults that check
 * {@code mmu_invalidate_retry_gfn_unsafe} before faultin never take the lock). The violation is
 * the fault's that crossed the bound.
 *
 * <p>Violation kinds: {@code fault-livelock}, {@code misaligned-leaf-livelock},
 * {@code zap-livelock}.
 */
public final class LivenessCheck extends Check {

  public static final String ID = "LIVENESS";

  /** Faults of one access in a row, with nothing changing, that a correct handler never needs. */
  static final int BOUND = 16;

  private long epoch;
  /** Whether stage 2 changed since the last TLB flush. */
  private boolean changedSinceFlush = true;
  /** Operations in progress that a fault may wait out (0 if one began before the check). */
  private int busy;
  private long[] faultGpa = new long[8];
  private long[] faultEpoch = new long[8];
  private int[] inARow = new int[8];
  /** Each actor's zap in progress, its hva range, and the retries under mmu_lock during it. */
  private boolean[] zapping = new boolean[8];
  private long[] zapStart = new long[8];
  private long[] zapEnd = new long[8];
  private int[] retriesDuringZap = new int[8];
  private int highestActor = -1;
  /** Faults judged: the first of an access, or one more in a row of the same access. */
  private final Facet faults = facet(Facet.of("fault", "first", "again"));
  /** Zaps of invalidate_range_start judged when they finished. */
  private final Facet zaps = facet(Facet.of("zap", "finished"));

  public LivenessCheck(KvmInstance kvm) {
    super(ID, kvm);
    Arrays.fill(faultGpa, -1);
  }

  private void ensure(int actor) {
    if (actor >= inARow.length) {
      int n = Math.max(actor + 1, inARow.length * 2);
      int old = faultGpa.length;
      faultGpa = Arrays.copyOf(faultGpa, n);
      Arrays.fill(faultGpa, old, n, -1);
      faultEpoch = Arrays.copyOf(faultEpoch, n);
      inARow = Arrays.copyOf(inARow, n);
      zapping = Arrays.copyOf(zapping, n);
      zapStart = Arrays.copyOf(zapStart, n);
      zapEnd = Arrays.copyOf(zapEnd, n);
      retriesDuringZap = Arrays.copyOf(retriesDuringZap, n);
    }
    highestActor = Math.max(highestActor, actor);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case INVALIDATE_RANGE_START:
        zapping[actor] = true;
        zapStart[actor] = a;
        zapEnd[actor] = b;
        retriesDuringZap[actor] = 0;
        busy++;
        epoch++;
        break;
      case INVALIDATE_RANGE_START_DONE:
        if (zapping[actor]) {
          zapping[actor] = false;
          judged();
          zaps.hit(0);
        }
        break;
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
      case FLUSH_REMOTE_TLBS_RANGE:
        if (changedSinceFlush) {
          changedSinceFlush = false;
          epoch++;
        }
        break;
      case SPTE_CHANGED:
        changedSinceFlush = true;
        epoch++;
        break;
      case FOLIO_CLEAR_DIRTY_FOR_IO:
        epoch++;
        break;
      case MMU_INVALIDATE_RETRY:
        epoch += c;
        if (c != 0) {
          judgeRetryDuringZaps(seq, actor);
        }
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

  /**
   * A fault of {@code actor} retried under mmu_lock: it took the lock from every zap running
   * over its hva (a fault elsewhere that retries only because the arch's check is whole-VM
   * contends too, but the zap's range is not where it faults).
   */
  private void judgeRetryDuringZaps(long seq, int actor) {
    if (faultGpa[actor] < 0) {
      return;
    }
    long gfn = faultGpa[actor] >>> kvm.pageShift();
    MemorySlot slot = kvm.memslots().gfnToMemslot(0, gfn);
    if (slot == null) {
      return;
    }
    long hva = slot.gfnToHva(gfn);
    for (int z = 0; z <= highestActor; z++) {
      if (z == actor || !zapping[z] || hva < zapStart[z] || hva >= zapEnd[z]
          || ++retriesDuringZap[z] != BOUND + 1) {
        continue;
      }
      fail(seq, actor, "zap-livelock",
          "%s's invalidation of hva [%#x, %#x) was still zapping when %s's fault became the %dth to"
              + " take mmu_lock only to retry: faults in a range under invalidation contend for"
              + " the lock the zap needs, and a contended zap yields to each of them",
          kvm.log().actorName(z), zapStart[z], zapEnd[z], kvm.log().actorName(actor),
          retriesDuringZap[z]);
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
      String why = misalignedLeaf(gpa >>> kvm.pageShift());
      fail(seq, actor, why != null ? "misaligned-leaf-livelock" : "fault-livelock",
          "%s faulted %d times in a row at gpa %#x with nothing changing in between: the fault"
              + " handler does not change the state that made the access fault%s",
          kvm.log().actorName(actor), inARow[actor], gpa, why != null ? why : "");
    }
  }

  /**
   * What is wrong with the present huge leaf stage 2 holds for {@code gfn}, read from
   * page-table memory, if its output frame is not aligned to its size; else null.
   */
  private String misalignedLeaf(long gfn) {
    for (RadixPageTable table : kvm.pageTablePages().pageTables()) {
      PageTableCursor cursor = table.newCursor(Stage2Leaves.READ_ONLY);
      if (!cursor.walk(gfn)) {
        continue;
      }
      PageTableFormat format = table.format();
      long pages = Stage2Leaves.pagesAt(format, cursor.level());
      long frame = format.outputAddress(cursor.entry(), cursor.level()) >>> kvm.pageShift();
      if (pages > 1 && (frame & (pages - 1)) != 0) {
        return String.format(Locale.US,
            " (stage 2 holds a %d-page leaf at gfn %#x whose output frame %#x is not aligned to"
                + " its size)", pages, gfn & -pages, frame);
      }
    }
    return null;
  }
}
