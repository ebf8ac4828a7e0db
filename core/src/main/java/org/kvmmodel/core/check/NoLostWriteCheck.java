package org.kvmmodel.core.check;

import java.util.Arrays;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * NO-LOST-WRITE: every guest write reaches the host as a dirty folio. Three judgements:
 * <ul>
 *   <li>at every {@code folio_clear_dirty_for_io} of writeback: if the folio was not dirty, no
 *       guest write may have landed in it since it was last cleaned dirty (the per-frame write
 *       counts of {@link org.kvmmodel.core.kvm.GuestWrites} against the count it covered);
 *   <li>at every leaf a slow-path fault installs for the pfn it faulted in: the fault's
 *       release of that page ({@code kvm_release_faultin_page}) decides whether the folio was
 *       dirtied; a guest write landing through an entry whose fault released the folio clean is
 *       lost, since the lockless fast path may not dirty folios afterwards. This is what makes
 *       {@code dirty = writable} (not {@code dirty = write}) necessary for a read fault that
 *       installs a writable entry;
 *   <li>at every guest write: the entry it went through was installed after the folio's last
 *       clean (writeback's {@code page_mkclean} invalidation zaps older ones).
 * </ul>
 *
 * <p>Violation kinds: {@code released-clean-after-write}, {@code writable-leaf-released-clean},
 * {@code stale-writable-leaf}, {@code clean-at-writeback}.
 */
public final class NoLostWriteCheck extends Check {

  public static final String ID = "NO-LOST-WRITE";

  private static final int NONE = 0;
  private static final int PENDING = 1;
  private static final int DIRTY = 2;
  private static final int CLEAN = 3;

  /** Per gfn: how its current leaf was installed ({@code NONE}: it has no leaf). */
  private static final class Install {
    int state;
    int installer;
    long pfn;
    long seq;
    long writeWhilePending = -1;
  }

  /** Per folio: guest writes covered by its last dirty clean, and that clean's event. */
  private static final class Folio {
    long covered;
    long lastClean = -1;
  }

  private final LongMap<Install> installs = new LongMap<>();
  private final LongMap<Folio> folios = new LongMap<>();
  private long[] faultinPfn = new long[8];
  /** Which rule judged: a fault's release, a guest write, writeback cleaning a folio. */
  private final Facet rules = facet(Facet.of("rule", "fault-release", "guest-write", "writeback"));
  private long[] installGfn = new long[8];

  public NoLostWriteCheck(KvmInstance kvm) {
    super(ID, kvm);
    Arrays.fill(faultinPfn, -1);
    Arrays.fill(installGfn, -1);
  }

  private void ensure(int actor) {
    if (actor >= faultinPfn.length) {
      int old = faultinPfn.length;
      int n = Math.max(actor + 1, old * 2);
      faultinPfn = Arrays.copyOf(faultinPfn, n);
      installGfn = Arrays.copyOf(installGfn, n);
      Arrays.fill(faultinPfn, old, n, -1);
      Arrays.fill(installGfn, old, n, -1);
    }
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case KVM_PAGE_FAULT:
      case KVM_PAGE_FAULT_DONE:
        faultinPfn[actor] = -1;
        installGfn[actor] = -1;
        break;
      case KVM_FAULTIN_PFN:
        faultinPfn[actor] = b;
        break;
      case SPTE_CHANGED:
        spteChanged(seq, actor, a, b, c);
        break;
      case KVM_RELEASE_PAGE_DIRTY:
        released(seq, actor, a, true);
        break;
      case KVM_RELEASE_PAGE_CLEAN:
        released(seq, actor, a, false);
        break;
      case GUEST_ACCESS:
        if ((b & GuestAccess.WRITE) != 0) {
          guestWrite(seq, actor, a >>> kvm.pageShift(), c >>> kvm.pageShift());
        }
        break;
      case FOLIO_CLEAR_DIRTY_FOR_IO:
        cleaned(seq, actor, a, b != 0);
        break;
      default:
        break;
    }
  }

  private void spteChanged(long seq, int actor, long gfn, long old, long value) {
    if (kvm.pageTablePages().pageTables().isEmpty()) {
      return;
    }
    PageTableFormat format = kvm.pageTablePages().pageTables().get(0).format();
    int level = format.geometry().minKernelLevel();
    if (!format.isPresent(value, level)) {
      Install gone = installs.get(gfn);
      if (gone != null) {
        gone.state = NONE;
      }
      return;
    }
    long pfn = faultinPfn[actor];
    if (pfn < 0
        || !format.isLeaf(value, level)
        || format.outputAddress(value, level) >>> kvm.pageShift() != pfn) {
      return;
    }
    Install in = installs.get(gfn);
    if (in == null) {
      in = new Install();
      installs.put(gfn, in);
    }
    in.state = PENDING;
    in.installer = actor;
    in.pfn = pfn;
    in.seq = seq;
    in.writeWhilePending = -1;
    installGfn[actor] = gfn;
  }

  private void released(long seq, int actor, long page, boolean dirty) {
    long gfn = installGfn[actor];
    if (gfn < 0) {
      return;
    }
    Install in = installs.get(gfn);
    if (in == null || in.state != PENDING || in.installer != actor || in.pfn != page) {
      return;
    }
    installGfn[actor] = -1;
    in.state = dirty ? DIRTY : CLEAN;
    judged();
    rules.hit(0);
    if (!dirty && in.writeWhilePending >= 0) {
      fail(seq, actor, "released-clean-after-write",
          "a guest write to gfn %#x at event %d landed through the stage-2 entry this fault"
              + " installed, and the fault then released folio %#x clean: the write is lost",
          gfn, in.writeWhilePending, page);
    }
  }

  private void guestWrite(long seq, int actor, long gfn, long pfn) {
    judged();
    rules.hit(1);
    Install in = installs.get(gfn);
    if (in == null || in.state == NONE || in.pfn != pfn) {
      return;
    }
    if (in.state == PENDING) {
      if (in.writeWhilePending < 0) {
        in.writeWhilePending = seq;
      }
    } else if (in.state == CLEAN) {
      fail(seq, actor, "writable-leaf-released-clean",
          "guest write to gfn %#x landed in folio %#x through a writable stage-2 entry whose"
              + " fault released the folio clean: a writable entry must dirty the folio when it"
              + " is created, even for a read fault", gfn, pfn);
    }
    Folio f = folios.get(pfn);
    if (f != null && f.lastClean > in.seq) {
      fail(seq, actor, "stale-writable-leaf",
          "guest write to gfn %#x landed in folio %#x through a stage-2 entry installed at"
              + " event %d, before writeback cleaned the folio at event %d: a stale writable"
              + " entry", gfn, pfn, in.seq, f.lastClean);
    }
  }

  private void cleaned(long seq, int actor, long pfn, boolean wasDirty) {
    judged();
    rules.hit(2);
    Folio f = folios.get(pfn);
    if (f == null) {
      f = new Folio();
      folios.put(pfn, f);
    }
    long writes = kvm.guestWrites().count(pfn);
    if (!wasDirty && writes > f.covered) {
      fail(seq, actor, "clean-at-writeback",
          "writeback found folio %#x clean although %d guest write(s) landed in it since it"
              + " was last cleaned dirty: the write is lost", pfn, writes - f.covered);
    }
    f.covered = writes;
    f.lastClean = seq;
  }
}
