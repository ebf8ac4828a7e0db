package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * DIRTY-LOG-COMPLETE, the oracle of KVM's {@code dirty_log_test}: with dirty logging on (the
 * commit that turned it on has returned, write-protecting the slot), every guest write is
 * reported by KVM_GET_DIRTY_LOG no later than the first harvest that begins
 * after the write and after every fault that was in flight on its gfn when it landed has
 * returned (the fault that made the mapping writable logs the gfn before it returns, and a
 * harvest that clears the bit write-protects the entry and flushes before it returns, so a
 * later write faults again). A write is discharged by any harvest that reports its gfn after
 * the write landed. KVM's own writes ({@code kvm_write_guest}, writes through a pfn cache) are
 * judged the same way, their write call standing in for the fault: it logs the gfn before it
 * returns. With manual protect, a KVM_CLEAR_DIRTY_LOG that requested the gfn and returned after
 * the write landed discharges it: the caller cleared it. Judged from guest and KVM writes, fault
 * and write-call completion events, the start and return of each harvest and the gfns its
 * returned bitmap holds (kind {@code write-unreported}).
 *
 * <p>The other direction, within KVM's slack: a gfn a harvest reports was written since its bit
 * was last cleared, by the guest or by KVM, or was the target of a write fault (which logs the
 * gfn before the write lands), or was given a writable leaf (which x86 logs even for a read
 * fault, since the guest may then write without faulting), or has been dirty since logging was
 * turned on with {@code KVM_DIRTY_LOG_INITIALLY_SET}, or is the gfn of such a fault or KVM write
 * still running, which may log it at any point until it returns (kind
 * {@code reported-unwritten}). And KVM_CLEAR_DIRTY_LOG
 * clears exactly what it was asked to: every requested bit that was set is clear when it
 * returns unless the gfn was logged again meanwhile ({@code requested-bit-kept}), no other bit
 * is cleared ({@code unrequested-bit-cleared}), and a refused request clears nothing
 * ({@code refused-clear-cleared}), read from the slot's bitmap when the request began and when
 * it returned.
 */
public final class DirtyLogCompleteCheck extends Check {

  public static final String ID = "DIRTY-LOG-COMPLETE";

  private static final int MAX_ACTORS = 64;

  private static final class Write {
    final long gfn;
    /** The slot written ({@code as_id << 16 | id}) and the page in it, which a move keeps. */
    final int slotArg;
    final long page;
    final long seq;
    final boolean byKvm;
    long waitingFor;
    long deadline = -1;

    Write(long gfn, int slotArg, long page, long seq, long waitingFor, boolean byKvm) {
      this.gfn = gfn;
      this.slotArg = slotArg;
      this.page = page;
      this.seq = seq;
      this.waitingFor = waitingFor;
      this.byKvm = byKvm;
    }
  }

  private final List<Write> pending = new ArrayList<>();
  /** Writes judged: the log mode × the backing of the frame written. */
  private final Facet writes =
      facet(Facet.of("mode", new String[] {"harvest", "manual", "manual-initially-set"},
          "backing", Backing.labels(Backing.ANON, Backing.ANON_THP)));
  private final DirtyLogOperations operations = new DirtyLogOperations(kvm, this::operationDone);
  /** Per slot page: the last event that dirtied it, and the start of the last op that cleared it. */
  private final LongMap<long[]> pageHistory = new LongMap<>();
  private final long[] faultGfn = new long[MAX_ACTORS];
  /** Per actor: whether its fault or KVM write in flight wrote or made its gfn writable. */
  private final boolean[] dirtying = new boolean[MAX_ACTORS];
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
    operations.onEvent(seq, tp, actor, a, b, c);
    switch (tp) {
      case KVM_PAGE_FAULT:
        faultGfn[actor] = a >>> kvm.pageShift();
        dirtying[actor] = (b & GuestAccess.WRITE) != 0;
        if (dirtying[actor]) {
          dirtied(seq, a >>> kvm.pageShift());
        }
        break;
      case SPTE_CHANGED:
        leafChanged(seq, actor, a, b, c);
        break;
      case MARK_PAGE_DIRTY_IN_SLOT:
        if ("kvm_vcpu_unmap".equals(kvm.callSites().innermost(actor))) {
          dirtied(seq, a);
        }
        break;
      case KVM_PAGE_FAULT_DONE:
        faultReturned(seq, actor, a >>> kvm.pageShift());
        break;
      case GUEST_ACCESS:
        if ((b & GuestAccess.WRITE) != 0) {
          guestWrite(seq, a >>> kvm.pageShift(), c >>> kvm.pageShift(), false);
        }
        break;
      case KVM_WRITE_GUEST:
      case GPC_WRITE:
        faultGfn[actor] = a;
        dirtying[actor] = true;
        guestWrite(seq, a, b, true);
        break;
      case KVM_WRITE_GUEST_DONE:
        faultReturned(seq, actor, a);
        break;
      case GET_DIRTY_LOG:
        harvestBegins(actor, (int) a);
        break;
      case DIRTY_LOG_HARVESTED:
        reported(actor, a);
        judgeReport(seq, actor, a);
        break;
      case GET_DIRTY_LOG_DONE:
        harvestReturns(seq, actor, b);
        break;
      case COMMIT_MEMORY_REGION_DONE:
        bitmapMaybeFreed((int) a);
        break;
      default:
        break;
    }
  }

  /**
   * A fault or a KVM write call returned. One that wrote or made the gfn writable may have
   * logged it at any point until now, so the log may report it.
   */
  private void faultReturned(long seq, int actor, long gfn) {
    faultGfn[actor] = -1;
    if (dirtying[actor]) {
      dirtying[actor] = false;
      dirtied(seq, gfn);
    }
    for (Write w : pending) {
      if (w.gfn == gfn) {
        w.waitingFor &= ~(1L << actor);
      }
    }
  }

  private void guestWrite(long seq, long gfn, long pfn, boolean byKvm) {
    MemorySlot slot = kvm.memslots().gfnToMemslot(0, gfn);
    if (slot == null || !slot.dirtyLogEnabled()) {
      return;
    }
    history(slot, gfn)[0] = seq;
    if (operations.loggingBeingEnabled(slot)) {
      return;
    }
    Backing backing = Backing.of(kvm.memory(), pfn);
    if (backing == Backing.ANON || backing == Backing.ANON_THP) {
      writes.hit(!kvm.dirtyLogManualProtect() ? 0 : kvm.dirtyLogManualProtectAndInitSet() ? 2 : 1,
          backing.ordinal());
    }
    long waitingFor = 0;
    for (int actor = 0; actor < MAX_ACTORS; actor++) {
      if (faultGfn[actor] == gfn) {
        waitingFor |= 1L << actor;
      }
    }
    pending.add(new Write(gfn, DirtyLogOperations.slotArg(slot), gfn - slot.baseGfn(), seq,
        waitingFor, byKvm));
  }

  /** A harvest of the slot {@code slotArg} begins: it owes the writes to that slot before it. */
  private void harvestBegins(int actor, int slotArg) {
    long id = ++harvests;
    harvestOf[actor] = id;
    for (Write w : pending) {
      if (w.deadline < 0 && w.waitingFor == 0 && w.slotArg == slotArg) {
        w.deadline = id;
      }
    }
  }

  /** The running harvest reports {@code gfn} of its slot, where the slot is now. */
  private void reported(int actor, long gfn) {
    DirtyLogOperations.Operation op = operations.running(actor);
    if (op == null) {
      return;
    }
    int slotArg = DirtyLogOperations.slotArg(op.slot);
    long page = gfn - op.slot.baseGfn();
    for (Iterator<Write> it = pending.iterator(); it.hasNext(); ) {
      Write w = it.next();
      if (w.slotArg == slotArg && w.page == page) {
        judged();
        it.remove();
      }
    }
  }

  /**
   * A memslot update committed: where the slot is gone or no longer logs, KVM freed its dirty
   * bitmap, and the writes it held are owed to no harvest (a moved slot keeps its bitmap).
   */
  private void bitmapMaybeFreed(int slotArg) {
    KvmMemslot now = kvm.memslots().active(slotArg >>> 16).byId(slotArg & 0xffff);
    if (now == null || !now.slot().dirtyLogEnabled()) {
      pending.removeIf(w -> w.slotArg == slotArg);
    }
  }

  /**
   * A harvest returned: the writes it owed and did not report fail, unless it failed (its slot
   * does not log, say) and so reported nothing, which leaves them to the next harvest.
   */
  private void harvestReturns(long seq, int actor, long ret) {
    long id = harvestOf[actor];
    for (Iterator<Write> it = pending.iterator(); it.hasNext(); ) {
      Write w = it.next();
      if (w.deadline == id && ret != 0) {
        w.deadline = -1;
      } else if (w.deadline == id) {
        judged();
        it.remove();
        fail(seq, actor, "write-unreported",
            "%s to gfn %#x at event %d was not reported by KVM_GET_DIRTY_LOG harvest"
                + " #%d, the first to begin after it with no fault on the gfn in flight",
            w.byKvm ? "KVM write" : "guest write", w.gfn, w.seq, id);
      }
    }
  }

  /** The history of {@code slot}'s page {@code gfn}, made on first use. */
  private long[] history(MemorySlot slot, long gfn) {
    long key = (long) DirtyLogOperations.slotArg(slot) << 40 | (gfn - slot.baseGfn());
    long[] h = pageHistory.get(key);
    if (h == null) {
      h = new long[2];
      pageHistory.put(key, h);
    }
    return h;
  }

  /** A write fault on {@code gfn} began, or KVM wrote it: the log may report it. */
  private void dirtied(long seq, long gfn) {
    MemorySlot slot = kvm.memslots().gfnToMemslot(0, gfn);
    if (slot != null && slot.dirtyLogEnabled()) {
      history(slot, gfn)[0] = seq;
    }
  }

  /**
   * A leaf that becomes writable may be written without a fault, so the fault that installs
   * it logs its gfns (x86's {@code make_spte} does so even for a read fault): the log may
   * report them.
   */
  private void leafChanged(long seq, int actor, long gfn, long old, long value) {
    if (kvm.pageTablePages().pageTables().isEmpty()) {
      return;
    }
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = kvm.pageTablePages().lastWriteLevel();
    if (Stage2Leaves.isWritableLeaf(format, value, level)
        && !Stage2Leaves.isWritableLeaf(format, old, level)) {
      long pages = Stage2Leaves.pagesAt(format, level);
      for (long g = gfn; g < gfn + pages; g++) {
        dirtied(seq, g);
      }
      if (faultGfn[actor] >= gfn && faultGfn[actor] < gfn + pages) {
        dirtying[actor] = true;
      }
    }
  }

  /** A harvest reports {@code gfn}: something wrote it since its bit was last cleared. */
  private void judgeReport(long seq, int actor, long gfn) {
    DirtyLogOperations.Operation op = operations.running(actor);
    if (op == null) {
      return;
    }
    judged();
    long[] h = history(op.slot, gfn);
    boolean initiallyDirty =
        h[1] < operations.initiallySetSince(DirtyLogOperations.slotArg(op.slot));
    if (h[0] <= h[1] && !initiallyDirty && !dirtyingInFlight(gfn)) {
      fail(seq, actor, "reported-unwritten",
          "KVM_GET_DIRTY_LOG reported gfn %#x dirty, but nothing could have written it since its"
              + " bit was last cleared (no guest write, write fault, leaf made writable or KVM"
              + " write since event %d)", gfn, h[1]);
    }
  }

  /** Whether a fault or KVM write that wrote or made {@code gfn} writable is still running. */
  private boolean dirtyingInFlight(long gfn) {
    for (int actor = 0; actor < MAX_ACTORS; actor++) {
      if (dirtying[actor] && faultGfn[actor] == gfn) {
        return true;
      }
    }
    return false;
  }

  /** A harvest or a clear returned: the bits it cleared, and for a clear, exactly those. */
  private void operationDone(long seq, int actor, DirtyLogOperations.Operation op) {
    switch (op.kind) {
      case HARVEST:
        for (int rel = op.reported.nextSetBit(0); rel >= 0; rel = op.reported.nextSetBit(rel + 1)) {
          history(op.slot, op.slot.baseGfn() + rel)[1] = op.begin;
        }
        break;
      case CLEAR:
        judgeClear(seq, actor, op);
        if (op.ret == 0) {
          forgetCleared(op);
        }
        break;
      default:
        break;
    }
  }

  /**
   * With manual protect the caller clears what it has handled: a write that landed before a
   * clear of its gfn returned may have been cleared with the bit, so no later harvest owes it.
   */
  private void forgetCleared(DirtyLogOperations.Operation op) {
    pending.removeIf(w -> {
      long rel = w.gfn - op.slot.baseGfn();
      return rel >= 0 && rel < op.slot.npages() && op.requested.get((int) rel);
    });
  }

  private void judgeClear(long seq, int actor, DirtyLogOperations.Operation op) {
    KvmMemslot now = kvm.memslots().active(op.slot.asId()).byId(op.slot.id());
    if (now == null || !now.hasDirtyBitmap()) {
      return;
    }
    judged();
    for (long rel = 0; rel < op.slot.npages(); rel++) {
      if (!op.setAtBegin(rel)) {
        continue;
      }
      long gfn = op.slot.baseGfn() + rel;
      boolean set = now.isDirtyLogged(gfn);
      boolean requested = op.requested.get((int) rel);
      if (op.ret != 0) {
        if (!set) {
          fail(seq, actor, "refused-clear-cleared",
              "KVM_CLEAR_DIRTY_LOG of slot %d failed with %d but cleared the bit of gfn %#x: a"
                  + " refused request must change nothing", op.slot.id(), op.ret, gfn);
          return;
        }
      } else if (requested && set && !op.marked.get((int) rel)) {
        fail(seq, actor, "requested-bit-kept",
            "KVM_CLEAR_DIRTY_LOG of slot %d pages [%#x, %#x) left the bit of gfn %#x set, although"
                + " it was set and requested and nothing logged the gfn again",
            op.slot.id(), op.firstPage, op.firstPage + op.numPages, gfn);
        return;
      } else if (!requested && !set) {
        fail(seq, actor, "unrequested-bit-cleared",
            "KVM_CLEAR_DIRTY_LOG of slot %d pages [%#x, %#x) cleared the bit of gfn %#x, which the"
                + " caller did not ask to clear: its dirty state is lost",
            op.slot.id(), op.firstPage, op.firstPage + op.numPages, gfn);
        return;
      } else if (requested) {
        history(op.slot, gfn)[1] = op.begin;
      }
    }
  }
}
