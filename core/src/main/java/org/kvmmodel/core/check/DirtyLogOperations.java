package org.kvmmodel.core.check;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.kvmmodel.api.kvm.MemoryChange;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * The dirty-log operations each actor is inside, followed from their events for the checks that
 * judge what such an operation must leave behind: KVM_GET_DIRTY_LOG
 * ({@code kvm_get_dirty_log_protect}), KVM_CLEAR_DIRTY_LOG ({@code kvm_clear_dirty_log_protect})
 * and the memslot commit that turns logging on ({@code kvm_arch_commit_memory_region}). For
 * each it records the slot, the bitmap as it was when the operation began, what the caller
 * asked to clear and what the harvest reported, and which gfns were legitimately dirtied again
 * while it ran: marked in the log, or the target of a guest fault that was in flight at any
 * time during it (a fault may make the entry writable after the operation protected it, even
 * a read fault on x86, and logs the gfn only after that, as the fast path does too). A
 * finished operation is handed to the check.
 */
final class DirtyLogOperations {

  /** What a dirty-log operation promises about the log and the stage-2 tables. */
  enum Kind {
    /** GET without manual protect: the reported bits are cleared and their gfns re-protected. */
    HARVEST,
    /** GET with manual protect: the bitmap is copied, nothing changes. */
    COPY,
    /** CLEAR: exactly the requested bits that are set are cleared, and their gfns re-protected. */
    CLEAR,
    /** A commit that turns dirty logging on: every gfn of the slot write-protected. */
    ENABLE
  }

  /** One operation of one actor. */
  static final class Operation {
    final Kind kind;
    final MemorySlot slot;
    final long begin;
    /** The slot's bitmap when the operation began, one long per 64 pages. */
    final long[] bitmapAtBegin;
    /** CLEAR: the caller's bits inside {@code [first_page, first_page + num_pages)}. */
    final BitSet requested = new BitSet();
    /** GET: the pages the returned bitmap reports. */
    final BitSet reported = new BitSet();
    /** Pages marked dirty in the log since the operation began, or being marked when it did. */
    final BitSet marked = new BitSet();
    /** Pages a guest fault targeted while the operation ran. */
    final BitSet faulted = new BitSet();
    long firstPage;
    long numPages;
    int ret;

    Operation(Kind kind, MemorySlot slot, long begin, long[] bitmapAtBegin) {
      this.kind = kind;
      this.slot = slot;
      this.begin = begin;
      this.bitmapAtBegin = bitmapAtBegin;
    }

    /** Whether page {@code rel} of the slot was set in the bitmap when the operation began. */
    boolean setAtBegin(long rel) {
      return (bitmapAtBegin[(int) (rel >>> 6)] >>> (rel & 63) & 1) != 0;
    }

    /** Whether page {@code rel} may have been made writable again while the operation ran. */
    boolean redirtied(long rel) {
      return marked.get((int) rel) || faulted.get((int) rel);
    }

    /** The pages KVM must leave write-protected when the operation returns successfully. */
    BitSet mustProtect() {
      BitSet pages = new BitSet();
      switch (kind) {
        case HARVEST:
          pages.or(reported);
          break;
        case CLEAR:
          for (int rel = requested.nextSetBit(0); rel >= 0; rel = requested.nextSetBit(rel + 1)) {
            if (setAtBegin(rel)) {
              pages.set(rel);
            }
          }
          break;
        case ENABLE:
          pages.set(0, (int) slot.npages());
          break;
        default:
          break;
      }
      pages.andNot(marked);
      pages.andNot(faulted);
      return pages;
    }
  }

  /** Receives each operation when it returns. */
  interface Finished {
    void finished(long seq, int actor, Operation op);
  }

  private final KvmInstance kvm;
  private final Finished finished;
  /** Per actor: the operation it is inside, or null; how many are. */
  private Operation[] running = new Operation[8];
  private int runningCount;
  /** Per actor inside {@code mark_page_dirty_in_slot}: the gfn whose bit it is setting, or -1. */
  private long[] markingGfn = new long[8];
  private final Map<Integer, Boolean> logging = new HashMap<>();
  private final Map<Integer, Long> initiallySetAt = new HashMap<>();
  /** Per actor inside a KVM_SET_USER_MEMORY_REGION2 that asks for logging: the slot, or -1. */
  private int[] enabling = new int[8];
  private int enablingCount;
  /**
   * Gfns a fault or a log mark touched while a KVM_SET_USER_MEMORY_REGION2 asking for logging
   * ran: a slot it creates or moves is published before its commit, and a fault in between
   * sees the logging slot, so its leaf is logged and owes no write-protection.
   */
  private final List<Long> touchedWhileEnabling = new ArrayList<>();
  /** Per actor in a guest fault: its gfn, or -1. */
  private long[] faultGfn = new long[8];

  DirtyLogOperations(KvmInstance kvm, Finished finished) {
    this.kvm = kvm;
    this.finished = finished;
    Arrays.fill(faultGfn, -1);
    Arrays.fill(markingGfn, -1);
    Arrays.fill(enabling, -1);
  }

  /** Per-actor state grown to hold {@code actor}; allocates only for a new actor. */
  private void ensure(int actor) {
    if (actor < faultGfn.length) {
      return;
    }
    int old = faultGfn.length;
    int n = Math.max(actor + 1, old * 2);
    running = Arrays.copyOf(running, n);
    faultGfn = Arrays.copyOf(faultGfn, n);
    markingGfn = Arrays.copyOf(markingGfn, n);
    enabling = Arrays.copyOf(enabling, n);
    Arrays.fill(faultGfn, old, n, -1);
    Arrays.fill(markingGfn, old, n, -1);
    Arrays.fill(enabling, old, n, -1);
  }

  /** Follows one event. */
  void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case KVM_PAGE_FAULT:
        faultBegins(actor, a >>> kvm.pageShift());
        if (enablingCount > 0) {
          touchedWhileEnabling.add(a >>> kvm.pageShift());
        }
        break;
      case KVM_PAGE_FAULT_DONE:
        faultGfn[actor] = -1;
        break;
      case MARK_PAGE_DIRTY_IN_SLOT:
        markingGfn[actor] = a;
        if (enablingCount > 0) {
          touchedWhileEnabling.add(a);
        }
        if (runningCount > 0) {
          for (Operation op : running) {
            if (op != null) {
              noteMark(op, a);
            }
          }
        }
        break;
      case MARK_PAGE_DIRTY_IN_SLOT_DONE:
        markingGfn[actor] = -1;
        break;
      case GET_DIRTY_LOG:
        begin(seq, actor, (int) a,
            kvm.dirtyLogManualProtect() ? Kind.COPY : Kind.HARVEST);
        break;
      case DIRTY_LOG_HARVESTED:
        reported(actor, a);
        break;
      case CLEAR_DIRTY_LOG:
        Operation clear = begin(seq, actor, (int) a, Kind.CLEAR);
        if (clear != null) {
          clear.firstPage = b;
          clear.numPages = c;
        }
        break;
      case CLEAR_DIRTY_LOG_MASK:
        requested(actor, b, c);
        break;
      case SET_MEMORY_REGION:
        if ((b & MemorySlot.KVM_MEM_LOG_DIRTY_PAGES) != 0 && enabling[actor] < 0) {
          enabling[actor] = (int) a;
          enablingCount++;
        }
        break;
      case SET_MEMORY_REGION_DONE:
        if (enabling[actor] >= 0) {
          enabling[actor] = -1;
          if (--enablingCount == 0) {
            touchedWhileEnabling.clear();
          }
        }
        break;
      case COMMIT_MEMORY_REGION:
        commitBegins(seq, actor, (int) a, MemoryChange.values()[(int) b]);
        break;
      case COMMIT_MEMORY_REGION_DONE:
        end(seq, actor, 0);
        break;
      case GET_DIRTY_LOG_DONE:
      case CLEAR_DIRTY_LOG_DONE:
        end(seq, actor, (int) b);
        break;
      default:
        break;
    }
  }

  private void faultBegins(int actor, long gfn) {
    faultGfn[actor] = gfn;
    if (runningCount > 0) {
      for (Operation op : running) {
        if (op != null) {
          noteFault(op, gfn);
        }
      }
    }
  }

  private static void noteMark(Operation op, long gfn) {
    long rel = gfn - op.slot.baseGfn();
    if (rel >= 0 && rel < op.slot.npages()) {
      op.marked.set((int) rel);
    }
  }

  private static void noteFault(Operation op, long gfn) {
    long rel = gfn - op.slot.baseGfn();
    if (rel >= 0 && rel < op.slot.npages()) {
      op.faulted.set((int) rel);
    }
  }

  private Operation begin(long seq, int actor, int slotArg, Kind kind) {
    int asId = slotArg >>> 16;
    if (asId >= kvm.memslots().addressSpaces()) {
      return null;
    }
    KvmMemslot s = kvm.memslots().active(asId).byId(slotArg & 0xffff);
    if (s == null || !s.hasDirtyBitmap()) {
      return null;
    }
    Operation op = new Operation(kind, s.slot(), seq, s.dirtyBitmapSnapshot());
    for (long gfn : faultGfn) {
      if (gfn >= 0) {
        noteFault(op, gfn);
      }
    }
    for (long gfn : markingGfn) {
      if (gfn >= 0) {
        noteMark(op, gfn);
      }
    }
    if (running[actor] == null) {
      runningCount++;
    }
    running[actor] = op;
    return op;
  }

  private void reported(int actor, long gfn) {
    Operation op = running(actor);
    if (op != null) {
      long rel = gfn - op.slot.baseGfn();
      if (rel >= 0 && rel < op.slot.npages()) {
        op.reported.set((int) rel);
      }
    }
  }

  private void requested(int actor, long gfnOffset, long mask) {
    Operation op = running(actor);
    if (op == null) {
      return;
    }
    long end = Math.min(op.firstPage + op.numPages, op.slot.npages());
    for (long m = mask; m != 0; m &= m - 1) {
      long rel = gfnOffset + Long.numberOfTrailingZeros(m);
      if (rel >= op.firstPage && rel < end) {
        op.requested.set((int) rel);
      }
    }
  }

  /**
   * A commit whose slot now logs dirty pages and did not before turns logging on; without
   * {@code KVM_DIRTY_LOG_INITIALLY_SET} the arch must write-protect the whole slot before it
   * returns. A slot created or moved with logging was published before its commit, so what a
   * fault or a log mark touched since the ioctl began is exempt, as a fault then logged it.
   */
  private void commitBegins(long seq, int actor, int slotArg, MemoryChange change) {
    boolean was = Boolean.TRUE.equals(logging.get(slotArg));
    KvmMemslot s =
        change == MemoryChange.DELETE
            ? null
            : kvm.memslots().active(slotArg >>> 16).byId(slotArg & 0xffff);
    boolean now = s != null && s.slot().dirtyLogEnabled();
    logging.put(slotArg, now);
    if (now && !was) {
      if (kvm.dirtyLogManualProtectAndInitSet()) {
        initiallySetAt.put(slotArg, seq);
      } else {
        initiallySetAt.remove(slotArg);
        Operation op = begin(seq, actor, slotArg, Kind.ENABLE);
        if (op != null && (change == MemoryChange.CREATE || change == MemoryChange.MOVE)) {
          for (long gfn : touchedWhileEnabling) {
            noteFault(op, gfn);
          }
        }
      }
    }
  }

  private void end(long seq, int actor, int ret) {
    Operation op = running[actor];
    if (op != null) {
      running[actor] = null;
      runningCount--;
      op.ret = ret;
      finished.finished(seq, actor, op);
    }
  }

  /** The {@code as_id << 16 | id} by which dirty-log ioctls and commit events name a slot. */
  static int slotArg(MemorySlot slot) {
    return slot.asId() << 16 | slot.id();
  }

  /** The operation {@code actor} is inside, or null. */
  Operation running(int actor) {
    return actor < running.length ? running[actor] : null;
  }

  /**
   * Whether a KVM_SET_USER_MEMORY_REGION2 that asks {@code slot} to log dirty pages is still
   * running: until it returns, the slot may be published with logging before its commit has
   * write-protected a page, so a write may land unlogged. After it, every write must fault and
   * be logged.
   */
  boolean loggingBeingEnabled(MemorySlot slot) {
    int arg = slotArg(slot);
    for (int e : enabling) {
      if (e == arg) {
        return true;
      }
    }
    return false;
  }

  /**
   * The event at which dirty logging was last turned on for the slot {@code slotArg} names
   * ({@code as_id << 16 | id}) with every bit initially set
   * ({@code KVM_DIRTY_LOG_INITIALLY_SET}), or 0 if the last time was without it or never.
   */
  long initiallySetSince(int slotArg) {
    return initiallySetAt.getOrDefault(slotArg, 0L);
  }
}
