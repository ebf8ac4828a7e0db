package org.kvmmodel.core.check;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.kvmmodel.api.pt.PageTableObserver.WriteKind;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.MmuLockKind;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.trace.SleepSite;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * LOCK-DISCIPLINE: the locking rules KVM's MMU states in {@code Documentation/virt/kvm/locking.rst}
 * and {@code arch/x86/kvm/mmu/tdp_mmu.c}, judged from each actor's own lock events.
 *
 * <ul>
 *   <li>An SPTE is written by software only with mmu_lock held for write; with it held for read
 *       only by an atomic update ({@code tdp_mmu_set_spte_atomic}) or by a store-release over
 *       an entry the writer locked with one ({@code stage2_make_pte} after
 *       {@code stage2_try_break_pte}; the engine's {@code EntrySlot.releaseLocked} refuses it
 *       unless the entry still holds the lock value); and
 *       without it only by the
 *       lockless fast path's atomic update inside an RCU read section
 *       ({@code fast_pf_fix_direct_spte} under {@code walk_shadow_page_lockless_begin}).
 *       Accessed/dirty bits the MMU hardware sets during a walk, and entries of a new table
 *       filled before it is linked, are not software writes to live SPTEs.
 *   <li>A page-table page unlinked from the tree is freed only after an RCU grace period that
 *       began after the unlink has ended ({@code handle_removed_pt} → {@code call_rcu} →
 *       {@code tdp_mmu_free_sp_rcu_callback}), so a lockless walker still holding it is safe.
 *   <li>KVM's lock order kvm->lock → slots_lock → mmu_lock is not inverted: slots_lock is never
 *       taken with mmu_lock held.
 *   <li>Nothing sleeps under mmu_lock, a spinning lock in both of its flavours ({@code spinlock_t},
 *       or {@code rwlock_t} where the arch defines {@code KVM_HAVE_MMU_RWLOCK}): no point that
 *       may sleep ({@code hva_to_pfn}, an mmap_lock acquisition, {@code mutex_lock} of
 *       slots_lock, a cache top-up that allocates,
 *       {@code synchronize_srcu} / {@code synchronize_rcu}) is reached with it held.
 *   <li>mmap_lock comes before mmu_lock: mmu_notifier callbacks are called with mmap_lock held
 *       (munmap, madvise, mprotect) and take mmu_lock, so KVM taking mmap_lock while holding
 *       mmu_lock is the inverse order, an ABBA deadlock with any notifier.
 * </ul>
 *
 * <p>Violation kinds: {@code no-mmu-lock}, {@code plain-store-under-read-lock},
 * {@code outside-rcu}, {@code free-before-grace-period}, {@code sleep-under-mmu-lock},
 * {@code lock-order}.
 */
public final class LockDisciplineCheck extends Check {

  private static final int SPTE_EXCLUSIVE = 0;
  private static final int SPTE_SHARED = 1;
  private static final int SPTE_LOCKLESS = 2;
  private static final int TABLE_FREE = 3;
  private static final int MIGHT_SLEEP = 4;
  private static final int LOCK_ORDER = 5;

  public static final String ID = "LOCK-DISCIPLINE";

  /** What was judged: an SPTE write by how mmu_lock was held, a table free, a sleep, an order. */
  private final Facet rules;

  private static final int UNLOCKED = 0;
  private static final int READ = 1;
  private static final int WRITE = 2;

  private int[] mmuLock = new int[8];
  private int[] rcuDepth = new int[8];
  private final Map<Long, Long> unlinkedAt = new HashMap<>();
  private final Map<Long, Long> gracePeriodStart = new HashMap<>();
  private long latestCompletedStart = -1;

  public LockDisciplineCheck(KvmInstance kvm) {
    super(ID, kvm);
    rules = facet(Facet.of("rule", "spte-write-exclusive", "spte-write-shared",
        "spte-write-lockless", "table-free", "might-sleep", "lock-order"));
    if (kvm.mmuLock().kind() == MmuLockKind.SPINLOCK) {
      rules.unreachable(SPTE_SHARED);
    }
  }

  private void ensure(int actor) {
    if (actor >= mmuLock.length) {
      int n = Math.max(actor + 1, mmuLock.length * 2);
      mmuLock = Arrays.copyOf(mmuLock, n);
      rcuDepth = Arrays.copyOf(rcuDepth, n);
    }
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    ensure(actor);
    switch (tp) {
      case MMU_LOCK:
        mmuLock[actor] = a != 0 ? WRITE : READ;
        break;
      case MMU_UNLOCK:
        mmuLock[actor] = UNLOCKED;
        break;
      case RCU_READ_LOCK:
        rcuDepth[actor]++;
        break;
      case RCU_READ_UNLOCK:
        rcuDepth[actor]--;
        break;
      case SPTE_CHANGED:
        judgeWrite(seq, actor, a);
        break;
      case TABLE_UNLINKED:
        unlinkedAt.put(a, seq);
        break;
      case RCU_GRACE_PERIOD_START:
        gracePeriodStart.put(a, seq);
        break;
      case RCU_GRACE_PERIOD_END:
        Long started = gracePeriodStart.remove(a);
        if (started != null) {
          latestCompletedStart = Math.max(latestCompletedStart, started);
        }
        break;
      case TABLE_FREED:
        judgeFree(seq, actor, a);
        break;
      case MIGHT_SLEEP:
        judgeSleep(seq, actor, SleepSite.of(a).kernelName());
        break;
      case MMAP_LOCK:
        judgeSleep(seq, actor, a != 0 ? "mmap_write_lock" : "mmap_read_lock");
        judgeTakenOutsideMmuLock(seq, actor,
            "mmap_lock taken with mmu_lock held (mmu_notifier callbacks run under mmap_lock and"
                + " take mmu_lock, so the order is mmap_lock, then mmu_lock)");
        break;
      case SLOTS_LOCK:
        judgeTakenOutsideMmuLock(seq, actor,
            "slots_lock taken with mmu_lock held (KVM's order is kvm->lock, slots_lock,"
                + " mmu_lock)");
        judgeSleep(seq, actor, "mutex_lock(&kvm->slots_lock)");
        break;
      default:
        break;
    }
  }

  /** A lock KVM's order puts before mmu_lock is taken: the actor must not hold mmu_lock. */
  private void judgeTakenOutsideMmuLock(long seq, int actor, String inversion) {
    judged();
    rules.hit(LOCK_ORDER);
    if (mmuLock[actor] != UNLOCKED) {
      fail(seq, actor, "lock-order", "%s", inversion);
    }
  }

  private void judgeSleep(long seq, int actor, String site) {
    judged();
    rules.hit(MIGHT_SLEEP);
    if (mmuLock[actor] != UNLOCKED) {
      String held =
          kvm.mmuLock().kind() == MmuLockKind.SPINLOCK
              ? "a spinlock"
              : mmuLock[actor] == WRITE ? "an rwlock, for write" : "an rwlock, for read";
      fail(seq, actor, "sleep-under-mmu-lock",
          "%s may sleep but was reached with mmu_lock held (%s): nothing may sleep under a"
              + " spinning lock", site, held);
    }
  }

  private void judgeWrite(long seq, int actor, long gfn) {
    WriteKind kind = kvm.pageTablePages().lastWriteKind();
    if (kind == WriteKind.HARDWARE || kind == WriteKind.PREFILL) {
      return;
    }
    judged();
    boolean atomic = kind == WriteKind.ATOMIC || kind == WriteKind.LOCKED_STORE;
    rules.hit(mmuLock[actor] == WRITE ? SPTE_EXCLUSIVE
        : mmuLock[actor] == READ ? SPTE_SHARED : SPTE_LOCKLESS);
    switch (mmuLock[actor]) {
      case WRITE:
        break;
      case READ:
        if (!atomic) {
          fail(seq, actor, "plain-store-under-read-lock",
              "spte of gfn %#x written with a plain store under mmu_lock held for read", gfn);
        }
        break;
      default:
        if (!atomic) {
          fail(seq, actor, "no-mmu-lock", "spte of gfn %#x written without mmu_lock", gfn);
        } else if (rcuDepth[actor] == 0) {
          fail(seq, actor, "outside-rcu",
              "spte of gfn %#x changed atomically without mmu_lock outside an RCU read section",
              gfn);
        }
        break;
    }
  }

  private void judgeFree(long seq, int actor, long address) {
    Long unlinked = unlinkedAt.remove(address);
    if (unlinked == null) {
      return;
    }
    judged();
    rules.hit(TABLE_FREE);
    if (latestCompletedStart < unlinked) {
      fail(seq, actor, "free-before-grace-period",
          "page table %#x freed before an RCU grace period that began after its unlink had"
              + " ended", address);
    }
  }
}
