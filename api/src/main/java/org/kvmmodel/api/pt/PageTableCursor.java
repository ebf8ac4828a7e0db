package org.kvmmodel.api.pt;

import java.util.Locale;
import java.util.function.LongPredicate;

/**
 * One thread's handle on a {@link RadixPageTable}: the walker and every operation that changes
 * the table. It keeps its path and results in fields it reuses, so steady-state walks, maps
 * and range operations allocate nothing. Not thread-safe; give each thread its own cursor.
 *
 * <p>Mirrors x86's {@code struct tdp_iter} with the TDP MMU operations built on it
 * ({@code arch/x86/kvm/mmu/tdp_iter.c}, {@code tdp_mmu.c}: {@code kvm_tdp_mmu_map},
 * {@code tdp_mmu_zap_leafs}, {@code wrprot_gfn_range}, {@code kvm_tdp_mmu_age_gfn_range},
 * {@code tdp_mmu_split_huge_page}, {@code handle_removed_pt}) and arm64's
 * {@code kvm_pgtable_walk} with the stage-2 walkers in {@code arch/arm64/kvm/hyp/pgtable.c}.
 *
 * <p>Range operations visit every entry of every table that intersects the range, descend
 * only into present tables (so empty subtrees cost one entry read) and treat a leaf that
 * overlaps the range as inside it, as both kernels do. Between entries they consult
 * {@link WalkControl#shouldYield()}; to yield they first issue any batched flush (if
 * {@link WalkControl#flushesBeforeYield()}), then {@link WalkControl#yieldLock()}, then restart
 * from the root at the first unprocessed frame.
 */
public final class PageTableCursor {

  private static final LongPredicate KEEP_NONE = entry -> false;

  private static final int ZAP = 0;
  private static final int WRITE_PROTECT = 1;
  private static final int AGE = 2;
  private static final int TEST_YOUNG = 3;
  private static final int TRANSFORM = 4;
  private static final int SPLIT = 5;
  private static final int FIND_LEAF = 6;
  private static final int ZAP_EXCLUSIVE = 7;

  private final RadixPageTable pageTable;
  private final PageTableFormat format;
  private final PageTableGeometry geometry;
  private final PageTableAllocator allocator;
  private final PageTableObserver observer;
  private final WalkControl control;
  private final EntrySlot slot;
  private final PageTablePage[] path;
  private final int lastDepth;

  private boolean flushPending;
  private boolean freeEmptiedTables;
  private int splitDepth;
  private boolean splitOutOfMemory;
  private PageTablePage splitChild;
  private PageTablePage walkTable;
  private int walkIndex;
  private long walkGfn;
  private int walkLevel;
  private long walkEntry;

  PageTableCursor(RadixPageTable pageTable, WalkControl control) {
    this.pageTable = pageTable;
    this.format = pageTable.format;
    this.geometry = pageTable.geometry;
    this.allocator = pageTable.allocator;
    this.observer = pageTable.observer;
    this.control = control;
    this.slot = new EntrySlot(observer, control, pageTable.raceHook);
    this.path = new PageTablePage[geometry.levels()];
    this.lastDepth = geometry.levels() - 1;
  }

  /** The table this cursor works on. */
  public RadixPageTable pageTable() {
    return pageTable;
  }

  // ---------------------------------------------------------------- walk

  /**
   * Walks to {@code gfn} without taking locks or allocating, in one go as the MMU hardware
   * and the checks read it ({@code kvm_tdp_mmu_get_walk}, {@code kvm_pgtable_get_leaf}); KVM's
   * own lockless fast path uses {@link #walkLockless}. Afterwards {@link #level()},
   * {@link #entry()}, {@link #table()} and {@link #index()} describe the last entry read.
   *
   * @return whether that entry is a present leaf
   */
  public boolean walk(long gfn) {
    return walk(gfn, false);
  }

  /**
   * {@link #walk} as KVM's own lockless walkers do it, under RCU without mmu_lock
   * ({@code kvm_tdp_mmu_fast_pf_get_last_sptep}): each entry below the root is a separate read
   * another CPU can come between, so the race hook is told before each one. A table unlinked
   * meanwhile is still readable until its grace period ends; what its entries hold then is the
   * format's business.
   *
   * @return whether the last entry read is a present leaf
   */
  public boolean walkLockless(long gfn) {
    return walk(gfn, true);
  }

  private boolean walk(long gfn, boolean lockless) {
    checkGfn(gfn);
    PageTablePage table = pageTable.root;
    for (int depth = 0; ; depth++) {
      int index = geometry.index(gfn, depth);
      int level = geometry.kernelLevel(depth);
      if (lockless && depth > 0) {
        pageTable.raceHook.beforeLocklessRead(level, gfn);
      }
      long entry = table.entry(index);
      walkTable = table;
      walkGfn = gfn;
      walkIndex = index;
      walkLevel = level;
      walkEntry = entry;
      if (!format.isPresent(entry, level)) {
        return false;
      }
      if (depth == lastDepth || format.isLeaf(entry, level)) {
        return format.isLeaf(entry, level);
      }
      table = allocator.tableAt(format.outputAddress(entry, level));
    }
  }

  /** Kernel level of the last entry the last {@link #walk} read. */
  public int level() {
    return walkLevel;
  }

  /** Value of the last entry the last {@link #walk} read. */
  public long entry() {
    return walkEntry;
  }

  /** Table holding the last entry the last {@link #walk} read. */
  public PageTablePage table() {
    return walkTable;
  }

  /** Index of the last entry the last {@link #walk} read. */
  public int index() {
    return walkIndex;
  }

  /**
   * What the MMU hardware does to a leaf it walked: atomically set {@code bits} (accessed,
   * dirty) in the entry the last {@link #walk} read, if it still holds {@code expected}. The
   * change is reported to the observer like any other. Returns false when the entry changed
   * under the walk; the hardware then walks again.
   */
  public boolean hardwareSetBits(long expected, long bits) {
    if (walkTable == null) {
      throw new IllegalStateException("no entry walked yet");
    }
    long updated = expected | bits;
    if (updated == expected) {
      return true;
    }
    if (!walkTable.compareAndSet(walkIndex, expected, updated)) {
      return false;
    }
    walkEntry = updated;
    if (observer != null) {
      int depth = geometry.depthOf(walkLevel);
      long pages = geometry.pagesPerEntry(depth);
      observer.entryWritten(PageTableObserver.WriteKind.HARDWARE, walkTable, walkIndex, walkLevel,
          walkGfn & -pages, expected, updated);
    }
    return true;
  }

  /**
   * A lockless fast path's single {@code cmpxchg} on the leaf the last {@link #walk} read:
   * replace {@code expected} with {@code updated} through the format's attribute-update hook,
   * so the race point and the observer see it like any other update. Returns false when the
   * entry no longer holds {@code expected} (or the race point made the update lose); the caller
   * walks again. Mirrors {@code fast_pf_fix_direct_spte}'s {@code try_cmpxchg64} on the SPTE
   * pointer {@code kvm_tdp_mmu_fast_pf_get_last_sptep} returned.
   *
   * @throws IllegalStateException when nothing was walked or {@code expected} is not a present
   *     leaf at the walked level
   */
  public boolean tryUpdateWalkedLeaf(long expected, long updated) {
    if (walkTable == null) {
      throw new IllegalStateException("no entry walked yet");
    }
    if (!format.isPresent(expected, walkLevel) || !format.isLeaf(expected, walkLevel)) {
      throw new IllegalStateException(
          String.format(
              Locale.US, "%#x is not a present leaf at level %d", expected, walkLevel));
    }
    int depth = geometry.depthOf(walkLevel);
    long pages = geometry.pagesPerEntry(depth);
    slot.point(walkTable, walkIndex, walkLevel, walkGfn & -pages, pages);
    if (!format.tryUpdateLeaf(slot, expected, updated)) {
      return false;
    }
    walkEntry = updated;
    return true;
  }

  // ---------------------------------------------------------------- map

  /**
   * Maps {@code leaf} at kernel level {@code level} for the frames from {@code gfn}, linking
   * intermediate tables as needed and splitting a huge leaf in the way; a table where the leaf
   * goes is replaced and its subtree unlinked. Mirrors {@code kvm_tdp_mmu_map} and
   * {@code kvm_pgtable_stage2_map}.
   *
   * @param gfn first frame, aligned to the leaf's size
   */
  public UpdateStatus map(long gfn, int level, long leaf) {
    return map(gfn, level, leaf, KEEP_NONE, true);
  }

  /**
   * As {@link #map(long, int, long)}, but a present leaf already at the target level that
   * {@code keepExisting} accepts is left alone and the map is {@link UpdateStatus#UNCHANGED}:
   * {@code tdp_mmu_map_handle_target_level} treats a fault whose access the existing leaf
   * already allows as spurious rather than overwrite it (and lose, say, its Dirty bit).
   */
  public UpdateStatus map(long gfn, int level, long leaf, LongPredicate keepExisting) {
    return map(gfn, level, leaf, keepExisting, true);
  }

  /**
   * Maps like {@link #map} except that a huge leaf in the way is not split into leaves: it is
   * replaced, through the format's replace hook (break-before-make where the format does it),
   * by an empty table, and only {@code leaf} is installed beneath it; the rest of the huge
   * leaf's range is mapped again when it faults. Mirrors {@code stage2_map_walk_leaf} in
   * {@code kvm_pgtable_stage2_map}, which turns a block that must become a table into a
   * freshly zeroed table page.
   *
   * @param gfn first frame, aligned to the leaf's size
   */
  public UpdateStatus mapReplacingHugeWithEmptyTable(long gfn, int level, long leaf) {
    return map(gfn, level, leaf, KEEP_NONE, false);
  }

  private UpdateStatus map(
      long gfn, int level, long leaf, LongPredicate keepExisting, boolean splitHugeIntoLeaves) {
    checkGfn(gfn);
    int target = geometry.depthOf(level);
    if (target < 0 || !geometry.leafAllowed(target)) {
      throw new IllegalArgumentException("no leaves at level " + level);
    }
    if ((gfn & (geometry.pagesPerEntry(target) - 1)) != 0) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "gfn %#x is not aligned for level %d", gfn, level));
    }
    PageTablePage table = pageTable.root;
    for (int depth = 0; ; depth++) {
      int index = geometry.index(gfn, depth);
      int entryLevel = geometry.kernelLevel(depth);
      long span = geometry.pagesPerEntry(depth);
      long base = gfn & -span;
      long entry = table.entry(index);
      slot.point(table, index, entryLevel, base, span);
      if (format.isLocked(entry, entryLevel)) {
        return UpdateStatus.RETRY;
      }
      boolean present = format.isPresent(entry, entryLevel);
      if (depth == target) {
        if (entry == leaf
            || (present && format.isLeaf(entry, entryLevel) && keepExisting.test(entry))) {
          return UpdateStatus.UNCHANGED;
        }
        if (!present) {
          return format.tryInstall(slot, entry, leaf) ? UpdateStatus.CHANGED : UpdateStatus.RETRY;
        }
        boolean wasTable = depth < lastDepth && !format.isLeaf(entry, entryLevel);
        if (!format.tryReplace(slot, entry, leaf)) {
          return UpdateStatus.RETRY;
        }
        if (wasTable) {
          unlinkSubtree(
              allocator.tableAt(format.outputAddress(entry, entryLevel)), depth + 1, base);
        }
        return UpdateStatus.CHANGED;
      }
      PageTablePage child;
      if (!present) {
        child = RadixPageTable.allocateTable(format, allocator, observer, depth + 1, base);
        if (child == null) {
          return UpdateStatus.NO_MEMORY;
        }
        if (!format.tryInstall(slot, entry, format.makeTable(child.physicalAddress(), entryLevel))) {
          discard(child);
          return UpdateStatus.RETRY;
        }
      } else if (format.isLeaf(entry, entryLevel)) {
        UpdateStatus split =
            splitHugeIntoLeaves
                ? splitAt(table, index, depth, base, entry)
                : replaceWithEmptyTable(table, index, depth, base, entry);
        if (split != UpdateStatus.CHANGED) {
          return split;
        }
        child = splitChild;
      } else {
        child = allocator.tableAt(format.outputAddress(entry, entryLevel));
      }
      table = child;
    }
  }

  // ---------------------------------------------------------------- split

  /**
   * Splits the huge leaf that maps {@code gfn} into a table of next-level leaves carrying the
   * same addresses and attributes ({@code tdp_mmu_split_huge_page},
   * {@code kvm_pgtable_stage2_split}).
   *
   * @return {@link UpdateStatus#UNCHANGED} when {@code gfn} is not mapped by a huge leaf
   */
  public UpdateStatus splitHuge(long gfn) {
    checkGfn(gfn);
    PageTablePage table = pageTable.root;
    for (int depth = 0; depth < lastDepth; depth++) {
      int index = geometry.index(gfn, depth);
      int level = geometry.kernelLevel(depth);
      long entry = table.entry(index);
      if (format.isLocked(entry, level)) {
        return UpdateStatus.RETRY;
      }
      if (!format.isPresent(entry, level)) {
        return UpdateStatus.UNCHANGED;
      }
      long span = geometry.pagesPerEntry(depth);
      if (format.isLeaf(entry, level)) {
        return splitAt(table, index, depth, gfn & -span, entry);
      }
      table = allocator.tableAt(format.outputAddress(entry, level));
    }
    return UpdateStatus.UNCHANGED;
  }

  private UpdateStatus splitAt(PageTablePage table, int index, int depth, long base, long huge) {
    int level = geometry.kernelLevel(depth);
    int childDepth = depth + 1;
    PageTablePage child = RadixPageTable.allocateTable(format, allocator, observer, childDepth, base);
    if (child == null) {
      return UpdateStatus.NO_MEMORY;
    }
    int entries = geometry.entries(childDepth);
    for (int i = 0; i < entries; i++) {
      child.write(i, format.makeSplitChild(huge, level, i));
    }
    slot.point(table, index, level, base, geometry.pagesPerEntry(depth));
    if (!format.tryReplace(slot, huge, format.makeTable(child.physicalAddress(), level))) {
      discard(child);
      return UpdateStatus.RETRY;
    }
    if (observer != null) {
      int childLevel = geometry.kernelLevel(childDepth);
      long childSpan = geometry.pagesPerEntry(childDepth);
      long empty = format.emptyEntry(childLevel);
      for (int i = 0; i < entries; i++) {
        observer.entryWritten(PageTableObserver.WriteKind.PREFILL, child, i, childLevel,
            base + i * childSpan, empty, child.entry(i));
      }
    }
    splitChild = child;
    return UpdateStatus.CHANGED;
  }

  private UpdateStatus replaceWithEmptyTable(
      PageTablePage table, int index, int depth, long base, long huge) {
    int level = geometry.kernelLevel(depth);
    PageTablePage child = RadixPageTable.allocateTable(format, allocator, observer, depth + 1, base);
    if (child == null) {
      return UpdateStatus.NO_MEMORY;
    }
    slot.point(table, index, level, base, geometry.pagesPerEntry(depth));
    if (!format.tryReplace(slot, huge, format.makeTable(child.physicalAddress(), level))) {
      discard(child);
      return UpdateStatus.RETRY;
    }
    splitChild = child;
    return UpdateStatus.CHANGED;
  }

  /**
   * Splits every huge leaf overlapping the range until no leaf above kernel level
   * {@code level} remains, as enabling dirty logging does eagerly
   * ({@code kvm_tdp_mmu_try_split_huge_pages}, {@code kvm_pgtable_stage2_split}). Splits done
   * before an allocation failure stay.
   *
   * @return {@link UpdateStatus#CHANGED} if anything was split, {@link UpdateStatus#UNCHANGED}
   *     if nothing needed to be, {@link UpdateStatus#NO_MEMORY} if a table could not be had
   */
  public UpdateStatus splitRange(long startGfn, long endGfn, int level) {
    int depth = geometry.depthOf(level);
    if (depth < 0 || !geometry.leafAllowed(depth)) {
      throw new IllegalArgumentException("no leaves at level " + level);
    }
    splitDepth = depth;
    splitOutOfMemory = false;
    long splits = rangeOperation(SPLIT, startGfn, endGfn, null);
    if (splitOutOfMemory) {
      return UpdateStatus.NO_MEMORY;
    }
    return splits == 0 ? UpdateStatus.UNCHANGED : UpdateStatus.CHANGED;
  }

  // ---------------------------------------------------------------- range operations

  /**
   * Zaps every leaf overlapping {@code [startGfn, endGfn)} ({@code tdp_mmu_zap_leafs},
   * {@code kvm_pgtable_stage2_unmap}); tables stay linked.
   *
   * @return how many leaves were zapped
   */
  public long zapRange(long startGfn, long endGfn) {
    return rangeOperation(ZAP, startGfn, endGfn, null);
  }

  /**
   * Zaps every leaf overlapping the range with the caller holding mmu_lock exclusively
   * ({@link PageTableFormat#zapExclusive}); the flush is batched: see {@link #flushPending()}.
   *
   * @return how many leaves were zapped
   */
  public long zapRangeExclusive(long startGfn, long endGfn) {
    return rangeOperation(ZAP_EXCLUSIVE, startGfn, endGfn, null);
  }

  /**
   * As {@link #zapRangeExclusive}, and afterwards, as it leaves each table it descended into,
   * frees the table if no entry in it is left: the table entry is cleared and its span's TLB
   * entries invalidated, then the page is unlinked and handed to deferred free. Tables the range
   * only partly covers are freed too when they end up empty, the root never. Mirrors arm64's
   * {@code stage2_unmap_walker} visiting table entries after their children
   * ({@code KVM_PGTABLE_WALK_TABLE_POST}): a table whose page count has dropped to one is
   * cleared with {@code kvm_tlb_flush_vmid_range} and put.
   *
   * @return how many leaves were zapped
   */
  public long zapRangeExclusiveFreeingEmptyTables(long startGfn, long endGfn) {
    freeEmptiedTables = true;
    try {
      return rangeOperation(ZAP_EXCLUSIVE, startGfn, endGfn, null);
    } finally {
      freeEmptiedTables = false;
    }
  }

  /**
   * Zaps, stepping through the range by address, only the leaves the range covers whole:
   * {@code gstage_unmap_range} in RISC-V 6.13's {@code arch/riscv/kvm/mmu.c}. The caller holds
   * mmu_lock exclusively ({@link PageTableFormat#zapExclusive}); see
   * {@link #writeProtectCoveredLeaves} for the stepping. The flush is batched: see
   * {@link #flushPending()}.
   *
   * @return how many leaves were zapped
   */
  public long zapCoveredLeaves(long startGfn, long endGfn) {
    return coveredLeafOperation(ZAP, startGfn, endGfn);
  }

  /**
   * Removes write permission, stepping through the range by address, only from the leaves the
   * range covers whole: {@code gstage_wp_range} in RISC-V 6.13. Each step walks from the root
   * to the frame's leaf or to the empty entry that ends the walk; a leaf is changed only when
   * the frame is aligned to its size and the rest of the range spans it, and either way the
   * next frame is the current one plus that size, not the next boundary. A huge leaf the range
   * only partly covers is skipped, and a step from an unaligned frame carries the
   * misalignment on, so later leaves of that size are skipped too. The flush is batched: see
   * {@link #flushPending()}.
   *
   * @return how many leaves changed
   */
  public long writeProtectCoveredLeaves(long startGfn, long endGfn) {
    return coveredLeafOperation(WRITE_PROTECT, startGfn, endGfn);
  }

  private long coveredLeafOperation(int op, long startGfn, long endGfn) {
    long end = Math.min(endGfn, 1L << geometry.gfnBits());
    long result = 0;
    long gfn = Math.max(startGfn, 0);
    while (gfn < end) {
      boolean leaf = walk(gfn);
      long pages = geometry.leafPages(walkLevel);
      if (leaf && (gfn & (pages - 1)) == 0 && end - gfn >= pages) {
        slot.point(walkTable, walkIndex, walkLevel, gfn, pages);
        long entry = walkEntry;
        if (op == ZAP) {
          if (!format.zapExclusive(slot, entry)) {
            continue;
          }
          flushPending = true;
          result++;
        } else {
          long updated = format.makeWriteProtected(entry, walkLevel);
          if (updated != entry) {
            if (!format.tryUpdateLeaf(slot, entry, updated)) {
              continue;
            }
            flushPending = true;
            result++;
          }
        }
      }
      gfn += pages;
      if (gfn < end && control.shouldYield()) {
        yieldLock();
      }
    }
    return result;
  }

  /** Issues the pending flush if the control wants it before yielding, then yields. */
  private void yieldLock() {
    if (flushPending && control.flushesBeforeYield()) {
      control.flushTlbs();
      flushPending = false;
    }
    control.yieldLock();
  }

  /**
   * The first frame of the first present leaf overlapping the range, or -1: a read-only walk
   * that skips empty subtrees and changes nothing, for checks that judge page-table memory.
   */
  public long findLeaf(long startGfn, long endGfn) {
    return rangeOperation(FIND_LEAF, startGfn, endGfn, null) - 1;
  }

  /**
   * Removes write permission from every leaf overlapping the range ({@code wrprot_gfn_range},
   * {@code kvm_pgtable_stage2_wrprotect}). The flush is batched: see {@link #flushPending()}.
   *
   * @return how many leaves changed
   */
  public long writeProtectRange(long startGfn, long endGfn) {
    return rangeOperation(WRITE_PROTECT, startGfn, endGfn, null);
  }

  /**
   * Clears the accessed state of every young leaf in the range ({@code kvm_tdp_mmu_age_gfn_range},
   * {@code kvm_pgtable_stage2_test_clear_young}). Aging never flushes.
   *
   * @return how many leaves were young
   */
  public long ageRange(long startGfn, long endGfn) {
    return rangeOperation(AGE, startGfn, endGfn, null);
  }

  /**
   * Whether any leaf in the range is young, changing nothing ({@code kvm_tdp_mmu_test_age_gfn}).
   */
  public boolean testYoungRange(long startGfn, long endGfn) {
    return rangeOperation(TEST_YOUNG, startGfn, endGfn, null) != 0;
  }

  /**
   * Applies {@code transform} to every present leaf in the range, installing each changed
   * value through the format's attribute-update hook. Changes are assumed to need a flush,
   * which is batched: see {@link #flushPending()}.
   *
   * @return how many leaves changed
   */
  public long updateLeafRange(long startGfn, long endGfn, LeafTransform transform) {
    return rangeOperation(TRANSFORM, startGfn, endGfn, transform);
  }

  /**
   * Whether entries lost permissions since the last flush this cursor issued; the caller
   * flushes ({@code kvm_flush_remote_tlbs}) and then calls {@link #clearFlushPending()}, as
   * KVM's callers act on the {@code flush} result of the range walkers.
   */
  public boolean flushPending() {
    return flushPending;
  }

  /** Records that the caller issued the pending flush. */
  public void clearFlushPending() {
    flushPending = false;
  }

  private long rangeOperation(int op, long startGfn, long endGfn, LeafTransform transform) {
    long limit = 1L << geometry.gfnBits();
    long end = Math.min(endGfn, limit);
    if (startGfn < 0 || startGfn >= end) {
      return 0;
    }
    long result = 0;
    long gfn = startGfn;
    long yieldedGfn = startGfn;
    int depth = 0;
    PageTablePage table = pageTable.root;
    path[0] = table;
    while (gfn < end) {
      int index = geometry.index(gfn, depth);
      int level = geometry.kernelLevel(depth);
      long span = geometry.pagesPerEntry(depth);
      long base = gfn & -span;
      long entry = table.entry(index);
      if (format.isPresent(entry, level)) {
        if (depth < lastDepth && !format.isLeaf(entry, level)) {
          table = allocator.tableAt(format.outputAddress(entry, level));
          path[++depth] = table;
          continue;
        }
        slot.point(table, index, level, base, span);
        switch (op) {
          case ZAP:
            if (!format.tryZap(slot, entry)) {
              continue;
            }
            result++;
            break;
          case ZAP_EXCLUSIVE:
            if (!format.zapExclusive(slot, entry)) {
              continue;
            }
            flushPending = true;
            result++;
            break;
          case TEST_YOUNG:
            if (format.isYoung(entry, level)) {
              return 1;
            }
            break;
          case FIND_LEAF:
            return base + 1;
          case SPLIT:
            if (depth < splitDepth) {
              UpdateStatus split = splitAt(table, index, depth, base, entry);
              if (split == UpdateStatus.NO_MEMORY) {
                splitOutOfMemory = true;
                return result;
              }
              if (split == UpdateStatus.CHANGED) {
                result++;
              }
              continue;
            }
            break;
          case AGE:
            if (format.isYoung(entry, level)) {
              if (!format.tryUpdateLeaf(slot, entry, format.makeOld(entry, level))) {
                continue;
              }
              result++;
            }
            break;
          default:
            long updated =
                op == WRITE_PROTECT
                    ? format.makeWriteProtected(entry, level)
                    : transform.apply(entry, level, base);
            if (updated != entry) {
              if (!format.tryUpdateLeaf(slot, entry, updated)) {
                continue;
              }
              flushPending = true;
              result++;
            }
            break;
        }
      }
      gfn = base + span;
      while (depth > 0 && geometry.index(gfn, depth) == 0) {
        depth--;
        if (freeEmptiedTables) {
          freeIfEmpty(depth, gfn - 1);
        }
      }
      table = path[depth];
      if (gfn < end && gfn != yieldedGfn && control.shouldYield()) {
        yieldLock();
        gfn = pageTable.walkRestart.resumeGfn(gfn, geometry.pagesPerEntry(0));
        yieldedGfn = gfn;
        depth = 0;
        table = pageTable.root;
      }
    }
    if (freeEmptiedTables) {
      while (depth > 0) {
        freeIfEmpty(--depth, gfn - 1);
      }
    }
    return result;
  }

  /**
   * Frees the table that the entry of {@code path[depth]} covering {@code gfn} links to, if
   * every entry of it is empty: the entry is cleared with a store (mmu_lock is held
   * exclusively), the table's span flushed, and the table unlinked for deferred free.
   */
  private void freeIfEmpty(int depth, long gfn) {
    PageTablePage parent = path[depth];
    int index = geometry.index(gfn, depth);
    int level = geometry.kernelLevel(depth);
    long entry = parent.entry(index);
    if (!format.isPresent(entry, level) || format.isLeaf(entry, level)) {
      return;
    }
    PageTablePage child = allocator.tableAt(format.outputAddress(entry, level));
    int childDepth = depth + 1;
    long empty = format.emptyEntry(geometry.kernelLevel(childDepth));
    for (int i = geometry.entries(childDepth) - 1; i >= 0; i--) {
      if (child.entry(i) != empty) {
        return;
      }
    }
    long span = geometry.pagesPerEntry(depth);
    slot.point(parent, index, level, gfn & -span, span);
    slot.write(format.emptyEntry(level));
    slot.flushTlb();
    unlinkSubtree(child, childDepth, gfn & -span);
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Zaps everything under the root: leaves through the format's zap hook, and table entries
   * the same way followed by unlinking and deferred freeing of their subtrees
   * ({@code tdp_mmu_zap_root} with {@code handle_removed_pt}, {@code kvm_pgtable_stage2_destroy}).
   * The root stays usable.
   */
  public void zapAll() {
    zapEverything(false);
  }

  /**
   * As {@link #zapAll()} with the caller holding mmu_lock exclusively, each entry cleared by
   * {@link PageTableFormat#zapExclusive} and no flush left pending: for a teardown after which
   * no vCPU can enter the guest again ({@code kvm_tdp_mmu_zap_all}, which zaps each root with
   * {@code tdp_mmu_zap_root} and flushes nothing).
   */
  public void zapAllExclusive() {
    zapEverything(true);
    flushPending = false;
  }

  private void zapEverything(boolean exclusive) {
    PageTablePage root = pageTable.root;
    int entries = geometry.entries(0);
    int level = geometry.kernelLevel(0);
    long span = geometry.pagesPerEntry(0);
    for (int index = 0; index < entries; ) {
      long entry = root.entry(index);
      if (!format.isPresent(entry, level)) {
        index++;
        continue;
      }
      slot.point(root, index, level, index * span, span);
      if (!(exclusive ? format.zapExclusive(slot, entry) : format.tryZap(slot, entry))) {
        continue;
      }
      if (lastDepth > 0 && !format.isLeaf(entry, level)) {
        unlinkSubtree(allocator.tableAt(format.outputAddress(entry, level)), 1, index * span);
      }
      index++;
    }
  }

  /**
   * Tears the table down: {@link #zapAll()}, then hands the root to deferred free. Neither the
   * table nor any cursor on it may be used afterwards ({@code kvm_tdp_mmu_put_root} dropping the
   * last reference, {@code kvm_pgtable_stage2_destroy}).
   */
  public void freeAll() {
    zapAll();
    pageTable.freeRoot();
  }

  private void unlinkSubtree(PageTablePage table, int depth, long baseGfn) {
    int level = geometry.kernelLevel(depth);
    long span = geometry.pagesPerEntry(depth);
    if (observer != null) {
      observer.tableUnlinked(table, level, baseGfn);
    }
    int entries = geometry.entries(depth);
    for (int index = 0; index < entries; index++) {
      long gfn = baseGfn + index * span;
      slot.point(table, index, level, gfn, span);
      long old = format.retireUnlinkedEntry(slot);
      if (depth < lastDepth && format.isPresent(old, level) && !format.isLeaf(old, level)) {
        unlinkSubtree(allocator.tableAt(format.outputAddress(old, level)), depth + 1, gfn);
      }
    }
    discard(table);
  }

  private void discard(PageTablePage table) {
    if (observer != null) {
      observer.tableFreed(table);
    }
    pageTable.deferredFree.deferFree(table);
  }

  private void checkGfn(long gfn) {
    if (gfn < 0 || gfn >= 1L << geometry.gfnBits()) {
      throw new IllegalArgumentException(
          String.format(
              Locale.US, "gfn %#x is outside the %d-bit guest address space",
              gfn, geometry.addressBits()));
    }
  }
}
