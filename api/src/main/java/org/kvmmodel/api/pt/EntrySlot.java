package org.kvmmodel.api.pt;

import java.util.Locale;

/**
 * The one entry an architecture hook is asked to change: which table, index, level and guest
 * frames it covers, and the only ways to write it. Every write is reported to the table's
 * {@link PageTableObserver}, so a hook cannot change page-table memory unseen. The x86
 * counterpart is the {@code struct tdp_iter} handed to {@code tdp_mmu_set_spte_atomic}; the
 * arm64 one is the {@code struct kvm_pgtable_visit_ctx} handed to {@code stage2_try_set_pte}.
 *
 * <p>A slot is owned by one {@link PageTableCursor} and reused for every entry it visits, so
 * a hook must not keep it after returning.
 */
public final class EntrySlot {

  private final PageTableObserver observer;
  private final WalkControl control;
  private final EntryRaceHook raceHook;
  private PageTablePage table;
  private int index;
  private int level;
  private long gfn;
  private long pages;

  EntrySlot(PageTableObserver observer, WalkControl control, EntryRaceHook raceHook) {
    this.observer = observer;
    this.control = control;
    this.raceHook = raceHook;
  }

  void point(PageTablePage table, int index, int level, long gfn, long pages) {
    this.table = table;
    this.index = index;
    this.level = level;
    this.gfn = gfn;
    this.pages = pages;
  }

  /** The table holding the entry. */
  public PageTablePage table() {
    return table;
  }

  /** The entry's index in its table. */
  public int index() {
    return index;
  }

  /** The entry's level, in the architecture's kernel numbering. */
  public int level() {
    return level;
  }

  /** The first guest frame the entry covers. */
  public long gfn() {
    return gfn;
  }

  /** Guest frames the entry covers. */
  public long pages() {
    return pages;
  }

  /** The entry's current value. */
  public long read() {
    return table.entry(index);
  }

  /**
   * Atomically replaces {@code expected} with {@code value}; false, with memory untouched, when
   * another thread changed the entry first ({@code try_cmpxchg64}).
   */
  public boolean compareAndSet(long expected, long value) {
    if (raceHook.beforeAtomicUpdate(table, index, level, gfn)) {
      return false;
    }
    if (!table.compareAndSet(index, expected, value)) {
      return false;
    }
    if (observer != null) {
      observer.entryWritten(
          PageTableObserver.WriteKind.ATOMIC, table, index, level, gfn, expected, value);
    }
    return true;
  }

  /** Atomically stores {@code value} and returns what it replaced ({@code xchg}). */
  public long exchange(long value) {
    raceHook.beforeAtomicUpdate(table, index, level, gfn);
    long old = table.exchange(index, value);
    if (observer != null) {
      observer.entryWritten(PageTableObserver.WriteKind.ATOMIC, table, index, level, gfn, old, value);
    }
    return old;
  }

  /**
   * Stores {@code value} with release ordering. Only for entries no other thread may change:
   * one the caller froze or locked, or any entry under an exclusive mmu_lock
   * ({@code WRITE_ONCE} / {@code smp_store_release}).
   */
  public void write(long value) {
    long old = table.entry(index);
    table.write(index, value);
    if (observer != null) {
      observer.entryWritten(PageTableObserver.WriteKind.STORE, table, index, level, gfn, old, value);
    }
  }

  /**
   * Stores {@code value} with release ordering over an entry the caller itself took out of
   * other threads' reach with an atomic exchange to {@code locked}: arm64's
   * {@code stage2_make_pte} after {@code stage2_try_break_pte}, x86's write of the final value
   * over {@code FROZEN_SPTE}. Legal under a shared mmu_lock, unlike {@link #write}.
   *
   * @throws IllegalStateException when the entry does not hold {@code locked}: the caller does
   *     not own it
   */
  public void releaseLocked(long locked, long value) {
    long old = table.entry(index);
    if (old != locked) {
      throw new IllegalStateException(
          String.format(
              Locale.US,
              "entry of gfn %#x holds %#x, not the locked value %#x its writer took",
              gfn, old, locked));
    }
    table.write(index, value);
    if (observer != null) {
      observer.entryWritten(
          PageTableObserver.WriteKind.LOCKED_STORE, table, index, level, gfn, old, value);
    }
  }

  /** Flushes the translations this entry covers now, on every vCPU. */
  public void flushTlb() {
    control.flushTlbRange(gfn, pages);
  }
}
