package org.kvmmodel.api.pt;

import java.util.Objects;

/**
 * One radix page table (a stage-2 root and everything under it) in some architecture's
 * format: the shared state behind any number of {@link PageTableCursor}s. The counterpart of
 * an x86 TDP MMU root ({@code struct kvm_mmu_page} with {@code role.level} = root level) or
 * an arm64 {@code struct kvm_pgtable}.
 *
 * <p>Create one with {@link #create}; operate on it through cursors, one per thread, made by
 * {@link #newCursor}. The table itself holds no mutable state besides page-table memory.
 */
public final class RadixPageTable {

  final PageTableFormat format;
  final PageTableGeometry geometry;
  final PageTableAllocator allocator;
  final DeferredFree deferredFree;
  final PageTableObserver observer;
  final EntryRaceHook raceHook;
  final WalkRestart walkRestart;
  final PageTablePage root;

  private RadixPageTable(
      PageTableFormat format, PageTableEnvironment environment, PageTablePage root) {
    this.format = format;
    this.geometry = format.geometry();
    this.allocator = environment.allocator();
    this.deferredFree = environment.deferredFree();
    this.observer = environment.observer();
    this.raceHook = environment.raceHook();
    this.walkRestart = environment.walkRestart();
    this.root = root;
  }

  /**
   * Allocates and initialises a root ({@code kvm_tdp_mmu_alloc_root},
   * {@code kvm_pgtable_stage2_init}).
   *
   * @param observer receives every change, or {@code null} for none (no cost then)
   * @throws IllegalStateException when the allocator has no page for the root
   */
  public static RadixPageTable create(
      PageTableFormat format,
      PageTableAllocator allocator,
      DeferredFree deferredFree,
      PageTableObserver observer) {
    return create(
        format, new PageTableEnvironment(allocator, deferredFree, observer, EntryRaceHook.NONE));
  }

  /** Allocates a root in the environment a VM provides. */
  public static RadixPageTable create(PageTableFormat format, PageTableEnvironment environment) {
    Objects.requireNonNull(format, "format");
    PageTablePage root =
        allocateTable(format, environment.allocator(), environment.observer(), 0, 0);
    if (root == null) {
      throw new IllegalStateException("no memory for a page-table root");
    }
    RadixPageTable table = new RadixPageTable(format, environment, root);
    if (environment.observer() != null) {
      environment.observer().pageTableCreated(table);
    }
    return table;
  }

  static PageTablePage allocateTable(
      PageTableFormat format,
      PageTableAllocator allocator,
      PageTableObserver observer,
      int depth,
      long gfn) {
    PageTableGeometry geometry = format.geometry();
    int pages = depth == 0 ? geometry.rootPages() : 1;
    PageTablePage page = allocator.allocate(pages, geometry.entriesPerPage());
    if (page == null) {
      return null;
    }
    if (page.entryCount() != pages * geometry.entriesPerPage()) {
      throw new IllegalStateException(
          "allocator returned " + page + " for " + pages + " pages of "
              + geometry.entriesPerPage() + " entries");
    }
    int level = geometry.kernelLevel(depth);
    page.fill(format.emptyEntry(level));
    if (observer != null) {
      observer.tableAllocated(page, level, gfn);
    }
    return page;
  }

  /** The root table (several contiguous pages for a concatenated root). */
  public PageTablePage root() {
    return root;
  }

  /** The descriptor format. */
  public PageTableFormat format() {
    return format;
  }

  /** The table's shape. */
  public PageTableGeometry geometry() {
    return geometry;
  }

  /**
   * Unlinks and hands the root page alone to deferred free ({@code tdp_mmu_free_sp} of a root
   * whose last reference is gone, {@code kvm_pgtable_stage2_destroy}'s final free): whatever is
   * still linked under it is never freed, as in KVM, so the caller zaps everything first.
   * Neither the table nor any cursor on it may be used afterwards.
   */
  public void freeRoot() {
    if (observer != null) {
      observer.tableUnlinked(root, geometry.kernelLevel(0), 0);
      observer.tableFreed(root);
    }
    deferredFree.deferFree(root);
  }

  /** A cursor for one thread, flushing and yielding through {@code control}. */
  public PageTableCursor newCursor(WalkControl control) {
    return new PageTableCursor(this, Objects.requireNonNull(control, "control"));
  }
}
