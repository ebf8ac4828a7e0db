package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DeferredFree;
import org.kvmmodel.api.pt.DescriptorFormat;
import org.kvmmodel.api.pt.DescriptorKind;
import org.kvmmodel.api.pt.EntryRaceHook;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableEnvironment;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.PageTableGeometry;
import org.kvmmodel.api.pt.PageTableObserver;
import org.kvmmodel.api.pt.PageTablePage;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.SimpleTableMemory;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.arch.riscv.RiscvPlugin;
import org.kvmmodel.arch.x86.EptDescriptorFormat;
import org.kvmmodel.arch.x86.EptPageTableFormat;
import org.kvmmodel.arch.x86.EptSpteEncoder;
import org.kvmmodel.arch.x86.Spte;

/**
 * The shared stage-2 walker, {@link PageTableCursor}, driven directly on tables of the real
 * descriptor formats (4-level EPT, arm64 4 KiB granule with a 40-bit IPA, RISC-V Sv39x4) over
 * memory of its own, and judged by the descriptors left in page-table memory (decoded by each
 * plugin's descriptor format), the tables allocated, unlinked and handed to deferred free, the
 * TLB flushes and yields it asks for and its return values. It pins what the kernel functions
 * the cursor mirrors do: x86's {@code kvm_tdp_mmu_map}, {@code tdp_mmu_split_huge_page},
 * {@code tdp_mmu_zap_leafs}, {@code wrprot_gfn_range}, {@code kvm_tdp_mmu_age_gfn_range},
 * {@code kvm_tdp_mmu_test_age_gfn}, {@code clear_dirty_gfn_range},
 * {@code tdp_mmu_iter_cond_resched}, {@code handle_removed_pt}, {@code tdp_mmu_zap_root} and
 * {@code kvm_tdp_mmu_fast_pf_get_last_sptep} ({@code arch/x86/kvm/mmu/tdp_mmu.c},
 * {@code tdp_iter.c}); arm64's {@code stage2_map_walk_leaf}, {@code stage2_split_walker} and
 * {@code stage2_unmap_walker} ({@code arch/arm64/kvm/hyp/pgtable.c}); and RISC-V's
 * {@code gstage_unmap_range} and {@code gstage_wp_range} ({@code arch/riscv/kvm/mmu.c}).
 */
class PageTableCursorEngineTests {

  private static final EptSpteEncoder ENCODER = new EptSpteEncoder(true, true);
  private static final EptPageTableFormat EPT = new EptPageTableFormat(4, ENCODER);
  private static final DescriptorFormat EPT_TEXT = new EptDescriptorFormat(4, true);
  private static final long WB = Spte.vmxGetMtMask(false, false);
  /** Frames a 4-level EPT translates: 36 bits of gfn. */
  private static final long EPT_LIMIT = 1L << 36;

  private static final PageTableFormat ARM64 =
      ArchVms.table(ArchVms.create("arm64", "4k-ipa40", "")).format();
  private static final DescriptorFormat ARM64_TEXT;
  private static final PageTableFormat RISCV =
      ArchVms.table(ArchVms.create("riscv", "sv39x4-svadu", "")).format();
  private static final DescriptorFormat RISCV_TEXT;

  static {
    Arm64Plugin arm64 = new Arm64Plugin();
    ARM64_TEXT = arm64.descriptorFormat(arm64.configuration("4k-ipa40"));
    RiscvPlugin riscv = new RiscvPlugin();
    RISCV_TEXT = riscv.descriptorFormat(riscv.configuration("sv39x4-svadu"));
  }

  /** Stage-2 Normal memory (MemAttr 0b1111), inner shareable, AF, S2AP read and write. */
  private static final long ARM64_ATTRS =
      (0xfL << 2) | (1L << 6) | (1L << 7) | (3L << 8) | (1L << 10);
  /** arm64's {@code KVM_INVALID_PTE_LOCKED}. */
  private static final long ARM64_LOCKED = 1L << 10;
  /** A G-stage leaf's V, R, W, U, A and D bits. */
  private static final long RISCV_RW = 0xd7;
  /** The W bit of a G-stage leaf. */
  private static final long RISCV_W = 1L << 2;

  // ---------------------------------------------------------------- fixtures

  /** An EPT leaf at {@code level}: RWX, accessed, dirty and MMU-writable. */
  private static long eptLeaf(int level, long pfn) {
    return ENCODER.makeSpte(level, pfn, Spte.ACC_ALL, false, true, WB);
  }

  /** A read-and-execute EPT leaf at {@code level}, accessed. */
  private static long eptReadOnly(int level, long pfn) {
    return ENCODER.makeSpte(level, pfn, Spte.ACC_EXEC | Spte.ACC_USER, false, true, WB);
  }

  private static DecodedDescriptor ept(long value, int level) {
    return EPT_TEXT.decode(value, OptionalInt.of(level));
  }

  /** An arm64 page (level 3) descriptor for {@code pa}. */
  private static long arm64Page(long pa) {
    return pa | ARM64_ATTRS | 0b11;
  }

  /** An arm64 block (level 1 or 2) descriptor for {@code pa}. */
  private static long arm64Block(long pa) {
    return pa | ARM64_ATTRS | 0b01;
  }

  private static DecodedDescriptor arm64(long value, int level) {
    return ARM64_TEXT.decode(value, OptionalInt.of(level));
  }

  /** A writable, accessed, dirty G-stage leaf for {@code pfn}. */
  private static long riscvLeaf(long pfn) {
    return (pfn << 10) | RISCV_RW;
  }

  private static DecodedDescriptor riscv(long value, int level) {
    return RISCV_TEXT.decode(value, OptionalInt.of(level));
  }

  private static String hex(long value) {
    return String.format(Locale.US, "%#x", value);
  }

  private static Rig ept() {
    return new Rig(EPT, 64, true);
  }

  /** One entry write the engine reported. */
  private record Write(
      PageTableObserver.WriteKind kind, PageTablePage page, int index, int level, long gfn,
      long old, long value) {}

  /**
   * One table on memory of its own, recording in order what the engine tells it: entry writes,
   * tables allocated and unlinked, pages handed to deferred free, and the flushes, yields and
   * lockless read points it asks for. It can make the next atomic updates lose their race and
   * run another actor inside a flush, a yield or a lockless read.
   */
  private static final class Rig
      implements PageTableObserver, WalkControl, EntryRaceHook, DeferredFree {
    final PageTableFormat format;
    final SimpleTableMemory memory;
    final RadixPageTable table;
    final PageTableCursor cursor;
    final List<String> log = new ArrayList<>();
    final List<String> tables = new ArrayList<>();
    final List<Write> writes = new ArrayList<>();
    final List<PageTablePage> unlinked = new ArrayList<>();
    final List<PageTablePage> deferred = new ArrayList<>();
    int losses;
    int yieldCalls;
    IntPredicate yieldAt = call -> false;
    boolean flushFirst = true;
    Runnable onYield = () -> {};
    Runnable onFlush;
    IntConsumer onLocklessRead = level -> {};

    Rig(PageTableFormat format, long pages, boolean observed) {
      this.format = format;
      this.memory = new SimpleTableMemory(0x1000_0000L, pages);
      this.table = RadixPageTable.create(
          format, new PageTableEnvironment(memory, this, observed ? this : null, this));
      this.cursor = table.newCursor(this);
    }

    PageTableCursor newCursor() {
      return table.newCursor(this);
    }

    PageTableGeometry geometry() {
      return table.geometry();
    }

    /** The table page holding the entry of kernel level {@code level} that covers {@code gfn}. */
    PageTablePage pageAt(long gfn, int level) {
      PageTableGeometry g = geometry();
      PageTablePage page = table.root();
      for (int depth = 0; depth < g.depthOf(level); depth++) {
        int entryLevel = g.kernelLevel(depth);
        long entry = page.entry(g.index(gfn, depth));
        if (!format.isPresent(entry, entryLevel) || format.isLeaf(entry, entryLevel)) {
          throw new AssertionError("no table at level " + level + " for gfn " + hex(gfn));
        }
        page = memory.tableAt(format.outputAddress(entry, entryLevel));
      }
      return page;
    }

    /** The entry of kernel level {@code level} that covers {@code gfn}, read from memory. */
    long entryAt(long gfn, int level) {
      return pageAt(gfn, level).entry(geometry().index(gfn, geometry().depthOf(level)));
    }

    List<Write> writesOf(PageTableObserver.WriteKind kind) {
      return writes.stream().filter(w -> w.kind() == kind).toList();
    }

    @Override
    public boolean beforeAtomicUpdate(PageTablePage page, int index, int level, long gfn) {
      if (losses > 0) {
        losses--;
        return true;
      }
      return false;
    }

    @Override
    public void beforeLocklessRead(int level, long gfn) {
      log.add("read L" + level + " " + hex(gfn));
      onLocklessRead.accept(level);
    }

    @Override
    public boolean shouldYield() {
      return yieldAt.test(++yieldCalls);
    }

    @Override
    public void yieldLock() {
      log.add("yield");
      onYield.run();
    }

    @Override
    public boolean flushesBeforeYield() {
      return flushFirst;
    }

    @Override
    public void flushTlbs() {
      log.add("flush all");
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      log.add("flush " + hex(gfn) + "+" + hex(pages));
      Runnable action = onFlush;
      onFlush = null;
      if (action != null) {
        action.run();
      }
    }

    @Override
    public void entryWritten(
        WriteKind kind, PageTablePage page, int index, int level, long gfn, long old,
        long value) {
      writes.add(new Write(kind, page, index, level, gfn, old, value));
    }

    @Override
    public void tableAllocated(PageTablePage page, int level, long gfn) {
      tables.add("allocated L" + level + " " + hex(gfn));
    }

    @Override
    public void tableUnlinked(PageTablePage page, int level, long gfn) {
      tables.add("unlinked L" + level + " " + hex(gfn));
      unlinked.add(page);
    }

    @Override
    public void tableFreed(PageTablePage page) {
      tables.add("freed " + hex(page.physicalAddress()));
    }

    @Override
    public void deferFree(PageTablePage page) {
      deferred.add(page);
    }
  }

  // ---------------------------------------------------------------- walks

  /** A walk ends at the first non-present entry and reports that entry (kvm_tdp_mmu_get_walk). */
  @Test
  void walkStopsAtTheFirstEmptyEntry() {
    Rig rig = ept();
    assertSame(rig.table, rig.cursor.pageTable());
    assertFalse(rig.cursor.walk(0x9_8765_4321L));
    assertEquals(4, rig.cursor.level());
    assertSame(rig.table.root(), rig.cursor.table());
    assertEquals(0x130, rig.cursor.index());
    assertEquals(DescriptorKind.EMPTY, ept(rig.cursor.entry(), 4).kind());
  }

  /** A walk descends every table to the 4 KiB leaf and reports where it sits. */
  @Test
  void walkReachesA4kLeafThroughEveryLevel() {
    Rig rig = ept();
    long gfn = 0x9_8765_4321L;
    long leaf = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(gfn, 1, leaf));
    assertTrue(rig.cursor.walk(gfn));
    assertEquals(1, rig.cursor.level());
    assertEquals(leaf, rig.cursor.entry());
    assertEquals(0x121, rig.cursor.index());
    assertSame(rig.pageAt(gfn, 1), rig.cursor.table());
  }

  /** A walk stops at a huge leaf: is_last_spte above level 1. */
  @Test
  void walkStopsAtAHugeLeaf() {
    Rig rig = ept();
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge));
    assertTrue(rig.cursor.walk(0x3ff));
    assertEquals(2, rig.cursor.level());
    assertEquals(huge, rig.cursor.entry());
    assertEquals(1, rig.cursor.index());
  }

  /** The table translates exactly its address width: the last frame, not one beyond. */
  @Test
  void walksAndMapsStayInsideTheGuestAddressWidth() {
    Rig rig = ept();
    long last = EPT_LIMIT - 1;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(last, 1, eptLeaf(1, 0x50000)));
    assertTrue(rig.cursor.walk(last));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.walk(EPT_LIMIT));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.walk(-1));
    assertThrows(IllegalArgumentException.class,
        () -> rig.cursor.map(EPT_LIMIT, 1, eptLeaf(1, 0x50000)));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.splitHuge(EPT_LIMIT));
  }

  /**
   * The lockless walk of the fast path reads each entry below the root separately, so another
   * CPU may come between those reads; a walk for the MMU hardware offers no such point.
   */
  @Test
  void locklessWalkOffersARacePointBeforeEachReadBelowTheRoot() {
    Rig rig = ept();
    long gfn = 0x12345;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(gfn, 1, eptLeaf(1, 0x50000)));
    assertTrue(rig.cursor.walkLockless(gfn));
    assertEquals(List.of("read L3 0x12345", "read L2 0x12345", "read L1 0x12345"), rig.log);
    rig.log.clear();
    assertTrue(rig.cursor.walk(gfn));
    assertEquals(List.of(), rig.log);
  }

  /**
   * A table unlinked between two lockless reads is still read, and holds the FROZEN_SPTE that
   * handle_removed_pt left in each entry, so the fast path finds no leaf.
   */
  @Test
  void aTableUnlinkedMidLocklessWalkIsReadWithItsFrozenEntries() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x201, 1, eptLeaf(1, 0x50001)));
    PageTablePage old = rig.pageAt(0x201, 1);
    PageTableCursor other = rig.newCursor();
    rig.onLocklessRead = level -> {
      if (level == 1) {
        assertEquals(UpdateStatus.CHANGED, other.map(0x200, 2, eptLeaf(2, 0x60000)));
      }
    };
    assertFalse(rig.cursor.walkLockless(0x201));
    assertEquals(1, rig.cursor.level());
    assertSame(old, rig.cursor.table());
    assertEquals(DescriptorKind.FROZEN, ept(rig.cursor.entry(), 1).kind());
    assertEquals(List.of(old), rig.deferred);
  }

  // ---------------------------------------------------------------- hardware and fast path

  /** The MMU hardware and the fast path act on an entry they walked, never on none. */
  @Test
  void updatesOfTheWalkedEntryNeedAWalkFirst() {
    Rig rig = ept();
    assertThrows(IllegalStateException.class,
        () -> rig.cursor.hardwareSetBits(eptLeaf(1, 0x50000), Spte.DIRTY));
    assertThrows(IllegalStateException.class,
        () -> rig.cursor.tryUpdateWalkedLeaf(eptLeaf(1, 0x50000), eptLeaf(1, 0x50000)));
  }

  /** The hardware sets D in the leaf it walked, reported at the leaf's first frame and level. */
  @Test
  void hardwareSetsDirtyInTheWalkedHugeLeaf() {
    Rig rig = ept();
    long clean = eptLeaf(2, 0x60000) & ~Spte.DIRTY;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 2, clean));
    assertTrue(rig.cursor.walk(0x5ff));
    assertTrue(rig.cursor.hardwareSetBits(clean, Spte.DIRTY));
    assertEquals(clean | Spte.DIRTY, rig.entryAt(0x400, 2));
    assertTrue(ept(rig.entryAt(0x400, 2), 2).dirty());
    assertEquals(clean | Spte.DIRTY, rig.cursor.entry());
    Write w = rig.writes.get(rig.writes.size() - 1);
    assertEquals(
        new Write(PageTableObserver.WriteKind.HARDWARE, rig.pageAt(0x400, 2), 2, 2, 0x400,
            clean, clean | Spte.DIRTY),
        w);
  }

  /** Bits the leaf already has need no write: the hardware's update is a no-op. */
  @Test
  void hardwareSettingBitsAlreadySetWritesNothing() {
    Rig rig = ept();
    long leaf = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, leaf));
    assertTrue(rig.cursor.walk(0x10));
    int before = rig.writes.size();
    assertTrue(rig.cursor.hardwareSetBits(leaf, Spte.ACCESSED | Spte.DIRTY));
    assertEquals(before, rig.writes.size());
    assertEquals(leaf, rig.entryAt(0x10, 1));
  }

  /** A leaf changed since the walk makes the hardware's update fail; it walks again. */
  @Test
  void hardwareUpdateOfAChangedLeafFailsAndLeavesIt() {
    Rig rig = ept();
    long leaf = eptLeaf(1, 0x50000) & ~Spte.DIRTY;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, leaf));
    assertTrue(rig.cursor.walk(0x10));
    assertEquals(1, rig.newCursor().writeProtectRange(0x10, 0x11));
    assertFalse(rig.cursor.hardwareSetBits(leaf, Spte.DIRTY));
    assertEquals(leaf & ~Spte.WRITABLE, rig.entryAt(0x10, 1));
  }

  /**
   * fast_pf_fix_direct_spte's cmpxchg on the walked leaf goes through the format, reported at
   * the leaf's first frame; the cursor then holds the new value.
   */
  @Test
  void fastPathUpdateOfTheWalkedLeafIsAnAtomicAtTheLeafsFirstFrame() {
    Rig rig = ept();
    long leaf = eptLeaf(2, 0x60000);
    long protectedLeaf = leaf & ~Spte.WRITABLE;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 2, protectedLeaf));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertTrue(rig.cursor.walk(0x5ff));
    assertTrue(rig.cursor.tryUpdateWalkedLeaf(protectedLeaf, leaf));
    assertEquals(leaf, rig.entryAt(0x400, 2));
    assertTrue(ept(rig.entryAt(0x400, 2), 2).writable());
    assertEquals(eptLeaf(1, 0x50000), rig.entryAt(0x10, 1));
    assertEquals(leaf, rig.cursor.entry());
    assertEquals(
        new Write(PageTableObserver.WriteKind.ATOMIC, rig.pageAt(0x400, 2), 2, 2, 0x400,
            protectedLeaf, leaf),
        rig.writes.get(rig.writes.size() - 1));
  }

  /** A fast-path cmpxchg that loses its race reports it and changes nothing. */
  @Test
  void fastPathUpdateThatLosesTheRaceChangesNothing() {
    Rig rig = ept();
    long leaf = eptLeaf(1, 0x50000);
    long protectedLeaf = leaf & ~Spte.WRITABLE;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, protectedLeaf));
    assertTrue(rig.cursor.walk(0x10));
    rig.losses = 1;
    assertFalse(rig.cursor.tryUpdateWalkedLeaf(protectedLeaf, leaf));
    assertEquals(protectedLeaf, rig.entryAt(0x10, 1));
    assertEquals(protectedLeaf, rig.cursor.entry());
  }

  /** The fast path only fixes a present leaf: is_shadow_present_pte and is_last_spte. */
  @Test
  void fastPathRefusesAnythingButAPresentLeaf() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertTrue(rig.cursor.walk(0x200));
    long table = ENCODER.makeNonleafSpte(0x7000_0000L);
    assertThrows(IllegalStateException.class,
        () -> rig.cursor.tryUpdateWalkedLeaf(table, eptLeaf(2, 0x60000)));
    assertThrows(IllegalStateException.class,
        () -> rig.cursor.tryUpdateWalkedLeaf(Spte.SHADOW_NONPRESENT_VALUE, eptLeaf(2, 0x60000)));
    assertEquals(eptLeaf(2, 0x60000), rig.entryAt(0x200, 2));
  }

  // ---------------------------------------------------------------- map

  /** kvm_tdp_mmu_map links a table at each missing level, then installs the leaf. */
  @Test
  void mapLinksMissingTablesAndInstallsTheLeaf() {
    Rig rig = ept();
    long gfn = 0x9_8765_4321L;
    long leaf = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(gfn, 1, leaf));
    assertEquals(
        List.of("allocated L4 0x0", "allocated L3 0x980000000", "allocated L2 0x987640000",
            "allocated L1 0x987654200"),
        rig.tables);
    for (int level = 4; level > 1; level--) {
      DecodedDescriptor d = ept(rig.entryAt(gfn, level), level);
      assertEquals(DescriptorKind.TABLE, d.kind(), "level " + level);
      assertEquals(rig.pageAt(gfn, level - 1).physicalAddress(), d.outputAddress().getAsLong());
    }
    DecodedDescriptor d = ept(rig.entryAt(gfn, 1), 1);
    assertEquals(DescriptorKind.LEAF, d.kind());
    assertTrue(d.writable());
    assertEquals(0x5000_0000L, d.outputAddress().getAsLong());
    assertEquals(4, rig.memory.allocatedTables());
    assertEquals(List.of(), rig.log);
  }

  /** An SPTE identical to the new one makes the fault spurious: nothing is written. */
  @Test
  void mappingTheSameLeafAgainIsUnchanged() {
    Rig rig = ept();
    long leaf = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, leaf));
    int before = rig.writes.size();
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.map(0x10, 1, leaf));
    assertEquals(before, rig.writes.size());
  }

  /**
   * tdp_mmu_map_handle_target_level returns RET_PF_SPURIOUS for a present last-level SPTE that
   * already allows the access, keeping it (and its D bit) rather than overwriting it.
   */
  @Test
  void mapKeepsAPresentLeafThatAlreadyAllowsTheAccess() {
    Rig rig = ept();
    long dirty = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, dirty));
    long clean = dirty & ~Spte.DIRTY;
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.map(0x10, 1, clean, e -> true));
    assertEquals(dirty, rig.entryAt(0x10, 1));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, clean, e -> false));
    assertEquals(clean, rig.entryAt(0x10, 1));
  }

  /** The spurious-fault check needs a shadow-present SPTE: an empty one is always filled. */
  @Test
  void keepExistingNeverKeepsAnEmptyEntry() {
    Rig rig = ept();
    long leaf = eptLeaf(1, 0x50000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, leaf, e -> true));
    assertEquals(leaf, rig.entryAt(0x10, 1));
  }

  /**
   * The spurious-fault check needs is_last_spte too: a table where a huge leaf goes is
   * replaced, flushed, and its table unlinked with every entry frozen (handle_removed_pt).
   */
  @Test
  void aHugeLeafOverATableUnlinksAndFreesTheTable() {
    Rig rig = ept();
    long small = eptLeaf(1, 0x50001);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x201, 1, small));
    PageTablePage old = rig.pageAt(0x201, 1);
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge, e -> true));
    assertEquals(huge, rig.entryAt(0x200, 2));
    assertEquals(List.of(old), rig.unlinked);
    assertEquals(List.of(old), rig.deferred);
    assertTrue(rig.tables.contains("unlinked L1 0x200"));
    assertEquals(DescriptorKind.FROZEN, ept(old.entry(0), 1).kind());
    assertEquals(DescriptorKind.FROZEN, ept(old.entry(1), 1).kind());
    assertEquals(DescriptorKind.FROZEN, ept(old.entry(511), 1).kind());
    assertTrue(rig.writes.contains(new Write(PageTableObserver.WriteKind.ATOMIC, old, 1, 1,
        0x201, small, Spte.FROZEN_SPTE)));
    assertEquals(List.of("flush 0x200+0x200"), rig.log);
  }

  /** A leaf replacing another leaf frees no table; the old translation is flushed. */
  @Test
  void aLeafReplacingALeafFreesNoTable() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x51000)));
    assertEquals(eptLeaf(1, 0x51000), rig.entryAt(0x10, 1));
    assertEquals(List.of(), rig.deferred);
    assertEquals(List.of("flush 0x10+0x1"), rig.log);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60200)));
    assertEquals(List.of(), rig.deferred);
  }

  /** Leaves go only at levels that hold them, at frames aligned to their size. */
  @Test
  void mapRejectsLevelsWithoutLeavesAndMisalignedFrames() {
    Rig rig = ept();
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.map(0, 4, eptLeaf(1, 0)));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.map(0, 5, eptLeaf(1, 0)));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.map(0, 0, eptLeaf(1, 0)));
    assertThrows(IllegalArgumentException.class,
        () -> rig.cursor.map(0x201, 2, eptLeaf(2, 0x60000)));
    assertThrows(IllegalArgumentException.class,
        () -> rig.cursor.map(0x40200, 3, eptLeaf(3, 0x40000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40000, 3, eptLeaf(3, 0x40000)));
    assertEquals(List.of("allocated L4 0x0", "allocated L3 0x0"), rig.tables);
  }

  /**
   * A fault that meets a frozen SPTE, at its target level or above it, gives up and retries
   * without allocating (kvm_tdp_mmu_map's is_frozen_spte check).
   */
  @Test
  void mapMeetingAFrozenEntryRetriesWithoutAllocating() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    PageTableCursor other = rig.newCursor();
    List<UpdateStatus> seen = new ArrayList<>();
    rig.onFlush = () -> {
      seen.add(other.map(0x200, 2, eptLeaf(2, 0x70000)));
      seen.add(other.map(0x205, 1, eptLeaf(1, 0x80005)));
      seen.add(other.splitHuge(0x205));
    };
    assertEquals(1, rig.cursor.zapRange(0x200, 0x201));
    assertEquals(List.of(UpdateStatus.RETRY, UpdateStatus.RETRY, UpdateStatus.RETRY), seen);
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x200, 2), 2).kind());
    assertEquals(3, rig.memory.allocatedTables());
  }

  /** A leaf install whose cmpxchg loses the race retries and leaves the entry empty. */
  @Test
  void aLeafInstallThatLosesTheRaceRetries() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    rig.losses = 1;
    assertEquals(UpdateStatus.RETRY, rig.cursor.map(0x11, 1, eptLeaf(1, 0x50001)));
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x11, 1), 1).kind());
    rig.losses = 1;
    assertEquals(UpdateStatus.RETRY, rig.cursor.map(0x10, 1, eptLeaf(1, 0x51000)));
    assertEquals(eptLeaf(1, 0x50000), rig.entryAt(0x10, 1));
  }

  /** A table whose link loses the race is freed and the fault retried (tdp_mmu_free_sp). */
  @Test
  void aTableLinkThatLosesTheRaceIsFreed() {
    Rig rig = ept();
    rig.losses = 1;
    assertEquals(UpdateStatus.RETRY, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(2, rig.memory.allocatedTables());
    assertEquals(1, rig.deferred.size());
    assertEquals(DescriptorKind.EMPTY, ept(rig.table.root().entry(0), 4).kind());
  }

  /**
   * With no page for a table the map fails with -ENOMEM (stage2_map_walk_leaf) and the tables
   * already linked on the way stay.
   */
  @Test
  void mapWithoutMemoryForATableKeepsTheTablesLinkedSoFar() {
    Rig rig = new Rig(EPT, 3, true);
    assertEquals(UpdateStatus.NO_MEMORY, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(DescriptorKind.TABLE, ept(rig.entryAt(0x10, 4), 4).kind());
    assertEquals(DescriptorKind.TABLE, ept(rig.entryAt(0x10, 3), 3).kind());
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x10, 2), 2).kind());
    assertEquals(List.of(), rig.deferred);
  }

  /**
   * kvm_tdp_mmu_map splits a huge page in the way (tdp_mmu_split_huge_page): every child keeps
   * the huge page's attributes and its part of the address, filled before the table is linked;
   * only the child the fault maps changes.
   */
  @Test
  void mapThroughAHugeLeafSplitsIt() {
    Rig rig = ept();
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge));
    long small = eptLeaf(1, 0x80000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x205, 1, small));
    assertEquals(DescriptorKind.TABLE, ept(rig.entryAt(0x200, 2), 2).kind());
    for (int i = 0; i < 512; i++) {
      long entry = rig.entryAt(0x200 + i, 1);
      if (i == 5) {
        assertEquals(small, entry);
        continue;
      }
      DecodedDescriptor d = ept(entry, 1);
      assertEquals(DescriptorKind.LEAF, d.kind(), "child " + i);
      assertEquals((0x60000L + i) << 12, d.outputAddress().getAsLong(), "child " + i);
      assertTrue(d.writable() && d.accessed() && d.dirty(), "child " + i);
      assertEquals(4096, d.mappingSize().getAsLong());
    }
    List<Write> prefill = rig.writesOf(PageTableObserver.WriteKind.PREFILL);
    assertEquals(512, prefill.size());
    Write last = prefill.get(511);
    assertEquals(rig.pageAt(0x200, 1), last.page());
    assertEquals(511, last.index());
    assertEquals(1, last.level());
    assertEquals(0x3ff, last.gfn());
    assertEquals(Spte.SHADOW_NONPRESENT_VALUE, last.old());
    assertEquals(EptSpteEncoder.makeSmallSpte(huge, 1, 511), last.value());
    assertEquals(List.of("flush 0x205+0x1"), rig.log);
  }

  /** Without a page for the split the huge leaf stays and the map reports -ENOMEM. */
  @Test
  void mapThroughAHugeLeafWithoutMemoryKeepsTheHugeLeaf() {
    Rig rig = new Rig(EPT, 3, true);
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge));
    assertEquals(UpdateStatus.NO_MEMORY, rig.cursor.map(0x205, 1, eptLeaf(1, 0x80000)));
    assertEquals(huge, rig.entryAt(0x200, 2));
    assertEquals(UpdateStatus.NO_MEMORY, rig.cursor.splitHuge(0x205));
    assertEquals(huge, rig.entryAt(0x200, 2));
  }

  /** A split whose cmpxchg loses the race frees its table and retries; the huge leaf stays. */
  @Test
  void aSplitThatLosesTheRaceFreesItsTable() {
    Rig rig = ept();
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge));
    rig.losses = 1;
    assertEquals(UpdateStatus.RETRY, rig.cursor.map(0x205, 1, eptLeaf(1, 0x80000)));
    assertEquals(huge, rig.entryAt(0x200, 2));
    assertEquals(1, rig.deferred.size());
    rig.losses = 1;
    assertEquals(UpdateStatus.RETRY, rig.cursor.splitHuge(0x205));
    assertEquals(huge, rig.entryAt(0x200, 2));
    assertEquals(2, rig.deferred.size());
  }

  /**
   * arm64's stage2_map_walk_leaf turns a block in the way into a freshly zeroed table by
   * break-before-make (lock, TLBI by IPA, store) and maps only the faulting page under it.
   */
  @Test
  void arm64ReplacesABlockInTheWayWithAnEmptyTable() {
    Rig rig = new Rig(ARM64, 64, true);
    long block = arm64Block(0x4000_0000L);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, block));
    rig.writes.clear();
    long page = arm64Page(0x5000_5000L);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.mapReplacingHugeWithEmptyTable(0x205, 3, page));
    assertEquals(DescriptorKind.TABLE, arm64(rig.entryAt(0x200, 2), 2).kind());
    assertEquals(page, rig.entryAt(0x205, 3));
    assertEquals(DescriptorKind.EMPTY, arm64(rig.entryAt(0x204, 3), 3).kind());
    assertEquals(DescriptorKind.EMPTY, arm64(rig.entryAt(0x3ff, 3), 3).kind());
    assertEquals(List.of("flush 0x200+0x200"), rig.log);
    assertTrue(rig.tables.contains("allocated L3 0x200"));
    PageTablePage l2 = rig.pageAt(0x200, 2);
    long table = rig.entryAt(0x200, 2);
    assertEquals(
        List.of(
            new Write(PageTableObserver.WriteKind.ATOMIC, l2, 1, 2, 0x200, block, ARM64_LOCKED),
            new Write(PageTableObserver.WriteKind.LOCKED_STORE, l2, 1, 2, 0x200, ARM64_LOCKED,
                table),
            new Write(PageTableObserver.WriteKind.ATOMIC, rig.pageAt(0x205, 3), 5, 3, 0x205, 0,
                page)),
        rig.writes);
  }

  /**
   * The block stays when stage2_map_walk_leaf has no page (-ENOMEM) or loses the
   * break-before-make race (-EAGAIN, the page put back).
   */
  @Test
  void arm64BlockReplacementWithoutMemoryOrLosingTheRaceKeepsTheBlock() {
    Rig rig = new Rig(ARM64, 3, true);
    long block = arm64Block(0x4000_0000L);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, block));
    long page = arm64Page(0x5000_5000L);
    assertEquals(UpdateStatus.NO_MEMORY,
        rig.cursor.mapReplacingHugeWithEmptyTable(0x205, 3, page));
    assertEquals(block, rig.entryAt(0x200, 2));
    Rig racing = new Rig(ARM64, 64, true);
    assertEquals(UpdateStatus.CHANGED, racing.cursor.map(0x200, 2, block));
    racing.losses = 1;
    assertEquals(UpdateStatus.RETRY,
        racing.cursor.mapReplacingHugeWithEmptyTable(0x205, 3, page));
    assertEquals(block, racing.entryAt(0x200, 2));
    assertEquals(1, racing.deferred.size());
    assertEquals(List.of(), racing.log);
  }

  // ---------------------------------------------------------------- split

  /** tdp_mmu_split_huge_page: 512 small SPTEs of the same attributes, linked without a flush. */
  @Test
  void splitHugeSplitsA2mLeafInto4kLeavesWithoutAFlush() {
    Rig rig = ept();
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 2, huge));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitHuge(0x5ff));
    for (int i = 0; i < 512; i++) {
      assertEquals(EptSpteEncoder.makeSmallSpte(huge, 1, i), rig.entryAt(0x400 + i, 1));
    }
    assertEquals(eptLeaf(1, 0x50000), rig.entryAt(0x10, 1));
    assertTrue(rig.cursor.walk(0x5ff));
    assertEquals(1, rig.cursor.level());
    assertEquals((0x60000L + 0x1ff) << 12, ept(rig.cursor.entry(), 1).outputAddress().getAsLong());
    assertEquals(List.of(), rig.log);
    assertTrue(rig.tables.contains("allocated L1 0x400"));
  }

  /** A 1 GiB leaf splits one level, into 2 MiB leaves. */
  @Test
  void splitHugeOfA1gLeafSplitsOneLevel() {
    Rig rig = ept();
    long huge = eptLeaf(3, 0x40000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40000, 3, huge));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitHuge(0x40000 + 0x3ffff));
    DecodedDescriptor d = ept(rig.entryAt(0x7fe00, 2), 2);
    assertEquals(DescriptorKind.LEAF, d.kind());
    assertEquals(2L << 20, d.mappingSize().getAsLong());
    assertEquals((0x40000L + 511 * 512) << 12, d.outputAddress().getAsLong());
    assertEquals(EptSpteEncoder.makeSmallSpte(huge, 2, 0), rig.entryAt(0x40000, 2));
    List<Write> prefill = rig.writesOf(PageTableObserver.WriteKind.PREFILL);
    assertEquals(512, prefill.size());
    assertEquals(2, prefill.get(511).level());
    assertEquals(0x40000 + 511 * 512, prefill.get(511).gfn());
  }

  /** Only a huge leaf splits: a 4 KiB leaf or a hole leaves the table as it was. */
  @Test
  void splitHugeLeavesSmallLeavesAndHolesAlone() {
    Rig rig = ept();
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitHuge(0x10));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    int writes = rig.writes.size();
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitHuge(0x10));
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitHuge(0x11));
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitHuge(0x10_0000));
    assertEquals(writes, rig.writes.size());
    assertEquals(4, rig.memory.allocatedTables());
  }

  /**
   * Eager splitting splits every huge leaf overlapping the range down to the level asked,
   * parents first, and no other.
   */
  @Test
  void splitRangeSplitsOverlappingHugeLeavesDownToTheLevel() {
    Rig rig = ept();
    long huge = eptLeaf(3, 0x40000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 3, huge));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitRange(0x3ff, 0x401, 1));
    assertEquals(5, rig.memory.allocatedTables());
    assertTrue(rig.cursor.walk(0));
    assertEquals(2, rig.cursor.level());
    assertTrue(rig.cursor.walk(0x3ff));
    assertEquals(1, rig.cursor.level());
    assertEquals((0x40000L + 0x3ff) << 12, ept(rig.cursor.entry(), 1).outputAddress().getAsLong());
    assertTrue(rig.cursor.walk(0x400));
    assertEquals(1, rig.cursor.level());
    assertTrue(rig.cursor.walk(0x600));
    assertEquals(2, rig.cursor.level());
    assertEquals(3 * 512, rig.writesOf(PageTableObserver.WriteKind.PREFILL).size());
    assertEquals(List.of(), rig.log);
  }

  /** A leaf already at the level asked is not split; a second pass finds nothing to do. */
  @Test
  void splitRangeStopsAtTheLevelAsked() {
    Rig rig = ept();
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitRange(0, 0x40000, 2));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 3, eptLeaf(3, 0x40000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitRange(0, 0x40000, 2));
    assertEquals(3, rig.memory.allocatedTables());
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitRange(0, 0x40000, 2));
    assertTrue(rig.cursor.walk(0x3ffff));
    assertEquals(2, rig.cursor.level());
  }

  /** Splits done before an allocation failure stay (-ENOMEM ends the eager split). */
  @Test
  void splitRangeWithoutMemoryKeepsTheSplitsDone() {
    Rig rig = new Rig(EPT, 3, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 3, eptLeaf(3, 0x40000)));
    assertEquals(UpdateStatus.NO_MEMORY, rig.cursor.splitRange(0, 0x400, 1));
    assertTrue(rig.cursor.walk(0));
    assertEquals(2, rig.cursor.level());
    assertTrue(rig.cursor.walk(0x200));
    assertEquals(2, rig.cursor.level());
  }

  /** A split that lost its cmpxchg is retried (goto retry in tdp_mmu_split_huge_pages_root). */
  @Test
  void splitRangeRetriesASplitThatLostTheRace() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    rig.losses = 1;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitRange(0x200, 0x400, 1));
    assertTrue(rig.cursor.walk(0x300));
    assertEquals(1, rig.cursor.level());
    assertEquals(1, rig.deferred.size());
  }

  /** Eager splitting only targets levels that hold leaves. */
  @Test
  void splitRangeRejectsLevelsWithoutLeaves() {
    Rig rig = ept();
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.splitRange(0, 1, 4));
    assertThrows(IllegalArgumentException.class, () -> rig.cursor.splitRange(0, 1, 0));
  }

  /** No leaf is larger than the top level's blocks: splitting down to them splits nothing. */
  @Test
  void splitRangeToTheTopLevelSplitsNothing() {
    Rig rig = new Rig(ARM64, 64, true);
    long block = arm64Block(0x4000_0000L);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40000, 1, block));
    assertEquals(UpdateStatus.UNCHANGED, rig.cursor.splitRange(0, 0x80000, 1));
    assertEquals(block, rig.entryAt(0x40000, 1));
  }

  /** arm64's stage2_split_walker replaces the block by break-before-make, TLBI by IPA. */
  @Test
  void arm64EagerSplitBreaksTheBlockFirst() {
    Rig rig = new Rig(ARM64, 64, true);
    long block = arm64Block(0x4000_0000L);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, block));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitRange(0x200, 0x400, 3));
    assertEquals(List.of("flush 0x200+0x200"), rig.log);
    DecodedDescriptor d = arm64(rig.entryAt(0x3ff, 3), 3);
    assertEquals(DescriptorKind.LEAF, d.kind());
    assertEquals(0x4000_0000L + (0x1ffL << 12), d.outputAddress().getAsLong());
    assertTrue(d.writable() && d.accessed());
  }

  // ---------------------------------------------------------------- range operations

  /**
   * Every leaf overlapping the range, a huge leaf partly inside it too, is zapped as
   * tdp_mmu_zap_spte_atomic does it: frozen, its own range flushed (kvm_flush_remote_tlbs_gfn),
   * then made non-present; tables stay linked.
   */
  @Test
  void zapRangeZapsEveryOverlappingLeafAndKeepsTables() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x401, 1, eptLeaf(1, 0x50001)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x600, 1, eptLeaf(1, 0x50002)));
    assertEquals(2, rig.cursor.zapRange(0x3ff, 0x401));
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x200, 2), 2).kind());
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x400, 1), 1).kind());
    assertEquals(eptLeaf(1, 0x50001), rig.entryAt(0x401, 1));
    assertEquals(eptLeaf(1, 0x50002), rig.entryAt(0x600, 1));
    assertEquals(List.of("flush 0x200+0x200", "flush 0x400+0x1"), rig.log);
    assertEquals(List.of(), rig.deferred);
    assertFalse(rig.cursor.flushPending());
  }

  /** A zap whose cmpxchg lost the race reads the entry again and zaps it. */
  @Test
  void zapRangeRetriesAZapThatLostTheRace() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    rig.losses = 1;
    assertEquals(1, rig.cursor.zapRange(0, 0x200));
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x10, 1), 1).kind());
  }

  /** Under the write lock the zaps are plain stores and the flush is left to the caller. */
  @Test
  void zapRangeExclusiveBatchesTheFlush() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(0, rig.cursor.zapRangeExclusive(0x11, 0x200));
    assertFalse(rig.cursor.flushPending());
    assertEquals(2, rig.cursor.zapRangeExclusive(0, 0x400));
    assertEquals(List.of(), rig.log);
    assertTrue(rig.cursor.flushPending());
    rig.cursor.clearFlushPending();
    assertFalse(rig.cursor.flushPending());
    assertEquals(2, rig.writesOf(PageTableObserver.WriteKind.STORE).size());
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x10, 1), 1).kind());
    assertEquals(DescriptorKind.TABLE, ept(rig.entryAt(0x10, 2), 2).kind());
    assertEquals(List.of(), rig.deferred);
  }

  /** A range is clipped to the address width, reaching its last frame; an empty range is none. */
  @Test
  void rangesAreClippedToTheAddressWidth() {
    Rig rig = ept();
    long last = EPT_LIMIT - 1;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(last, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 1, eptLeaf(1, 0x50001)));
    assertEquals(0, rig.cursor.zapRange(5, 5));
    assertEquals(0, rig.cursor.zapRange(1, 0));
    assertEquals(1, rig.cursor.zapRange(last, Long.MAX_VALUE));
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(last, 1), 1).kind());
    assertEquals(eptLeaf(1, 0x50001), rig.entryAt(0, 1));
  }

  /**
   * wrprot_gfn_range clears W where it is set, keeps MMU-writable for the fast path, and leaves
   * the flush to the caller.
   */
  @Test
  void writeProtectRangeClearsWOnlyWhereSet() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x11, 1, eptReadOnly(1, 0x50001)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(0, rig.cursor.writeProtectRange(0x11, 0x12));
    assertFalse(rig.cursor.flushPending());
    assertEquals(2, rig.cursor.writeProtectRange(0, 0x201));
    assertTrue(rig.cursor.flushPending());
    assertEquals(List.of(), rig.log);
    assertFalse(ept(rig.entryAt(0x10, 1), 1).writable());
    assertTrue(Spte.isMmuWritableSpte(rig.entryAt(0x10, 1)));
    assertFalse(ept(rig.entryAt(0x200, 2), 2).writable());
    assertEquals(eptReadOnly(1, 0x50001), rig.entryAt(0x11, 1));
  }

  /** A write-protection cmpxchg that lost the race is retried. */
  @Test
  void writeProtectRetriesAnUpdateThatLostTheRace() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    rig.losses = 1;
    assertEquals(1, rig.cursor.writeProtectRange(0, 0x20));
    assertFalse(ept(rig.entryAt(0x10, 1), 1).writable());
  }

  /** kvm_tdp_mmu_age_gfn_range clears A on young leaves only and counts them; no flush. */
  @Test
  void ageRangeClearsAccessedOnYoungLeavesOnly() {
    Rig rig = ept();
    long young = eptLeaf(1, 0x50000);
    long old = eptLeaf(1, 0x50001) & ~Spte.ACCESSED;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, young));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x11, 1, old));
    int writes = rig.writes.size();
    assertEquals(1, rig.cursor.ageRange(0, 0x20));
    assertEquals(writes + 1, rig.writes.size());
    assertFalse(ept(rig.entryAt(0x10, 1), 1).accessed());
    assertEquals(old, rig.entryAt(0x11, 1));
    assertFalse(rig.cursor.flushPending());
    assertEquals(List.of(), rig.log);
    assertEquals(0, rig.cursor.ageRange(0, 0x20));
  }

  /** An aging cmpxchg that lost the race is retried. */
  @Test
  void ageRetriesAnUpdateThatLostTheRace() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000)));
    rig.losses = 1;
    assertEquals(1, rig.cursor.ageRange(0, 0x20));
    assertFalse(ept(rig.entryAt(0x10, 1), 1).accessed());
  }

  /** kvm_tdp_mmu_test_age_gfn: whether any leaf of the range is young, changing nothing. */
  @Test
  void testYoungRangeFindsAYoungLeafAndChangesNothing() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED,
        rig.cursor.map(0x10, 1, eptLeaf(1, 0x50000) & ~Spte.ACCESSED));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x11, 1, eptLeaf(1, 0x50001)));
    int writes = rig.writes.size();
    assertFalse(rig.cursor.testYoungRange(0x10, 0x11));
    assertTrue(rig.cursor.testYoungRange(0x10, 0x12));
    assertFalse(rig.cursor.testYoungRange(0x12, 0x200));
    assertEquals(writes, rig.writes.size());
  }

  /**
   * A transform (clear_dirty_gfn_range clearing D) sees each present leaf with its level and
   * first frame; changed leaves are counted and leave a flush to the caller.
   */
  @Test
  void updateLeafRangeAppliesTheTransformToEachLeaf() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x401, 1, eptReadOnly(1, 0x50001)));
    List<String> seen = new ArrayList<>();
    rig.losses = 1;
    long changed = rig.cursor.updateLeafRange(0x300, 0x402, (entry, level, gfn) -> {
      seen.add("L" + level + " " + hex(gfn));
      return entry & ~Spte.DIRTY;
    });
    assertEquals(2, changed);
    assertEquals(List.of("L2 0x200", "L2 0x200", "L1 0x400", "L1 0x401"), seen);
    assertTrue(rig.cursor.flushPending());
    assertFalse(ept(rig.entryAt(0x200, 2), 2).dirty());
    assertFalse(ept(rig.entryAt(0x400, 1), 1).dirty());
    assertEquals(eptReadOnly(1, 0x50001), rig.entryAt(0x401, 1));
  }

  /** A read-only search reports the first frame of the first leaf overlapping the range. */
  @Test
  void findLeafReportsTheFirstOverlappingLeafsFirstFrame() {
    Rig rig = ept();
    assertEquals(-1, rig.cursor.findLeaf(0, EPT_LIMIT));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x8000_0005L, 1, eptLeaf(1, 0x50000)));
    int writes = rig.writes.size();
    assertEquals(0x200, rig.cursor.findLeaf(0x3ff, 0x1000));
    assertEquals(0x8000_0005L, rig.cursor.findLeaf(0x400, EPT_LIMIT));
    assertEquals(-1, rig.cursor.findLeaf(0x400, 0x8000_0005L));
    assertEquals(writes, rig.writes.size());
  }

  // ---------------------------------------------------------------- yields

  /**
   * A long walk yields between entries, never after the last, and restarts from the root at
   * the first frame it has not processed (tdp_mmu_iter_cond_resched, tdp_iter_restart).
   */
  @Test
  void aLongWalkYieldsBetweenEntriesAndResumesWhereItStopped() {
    Rig rig = ept();
    for (long gfn = 0; gfn < 3; gfn++) {
      assertEquals(UpdateStatus.CHANGED, rig.cursor.map(gfn, 1, eptLeaf(1, 0x50000 + gfn)));
    }
    rig.log.clear();
    rig.yieldAt = call -> true;
    assertEquals(3, rig.cursor.zapRange(0, 3));
    assertEquals(2, rig.yieldCalls);
    assertEquals(List.of("flush 0x0+0x1", "yield", "flush 0x1+0x1", "yield", "flush 0x2+0x1"),
        rig.log);
    for (long gfn = 0; gfn < 3; gfn++) {
      assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(gfn, 1), 1).kind());
    }
  }

  /** tdp_mmu_zap_leafs flushes what it zapped before it yields, and goes on batching after. */
  @Test
  void anExclusiveZapFlushesBeforeItYields() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(1, 1, eptLeaf(1, 0x50001)));
    rig.yieldAt = call -> call == 1;
    assertEquals(2, rig.cursor.zapRangeExclusive(0, 2));
    assertEquals(List.of("flush all", "yield"), rig.log);
    assertTrue(rig.cursor.flushPending());
  }

  /** A yield with nothing zapped since the last flush issues no flush. */
  @Test
  void aYieldWithNothingPendingIssuesNoFlush() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(1, 1, eptLeaf(1, 0x50001)));
    rig.yieldAt = call -> call == 1;
    assertEquals(1, rig.cursor.zapRangeExclusive(0, 2));
    assertEquals(List.of("yield"), rig.log);
    assertTrue(rig.cursor.flushPending());
  }

  /** wrprot_gfn_range yields with its flush still pending: dirty logging flushes at the end. */
  @Test
  void aWriteProtectWalkYieldsWithItsFlushPending() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(1, 1, eptLeaf(1, 0x50001)));
    rig.flushFirst = false;
    rig.yieldAt = call -> call == 1;
    assertEquals(2, rig.cursor.writeProtectRange(0, 2));
    assertEquals(List.of("yield"), rig.log);
    assertTrue(rig.cursor.flushPending());
    assertFalse(ept(rig.entryAt(1, 1), 1).writable());
  }

  /**
   * After a yield the walk descends from the root again, so a table replaced meanwhile by a huge
   * leaf is not read through its stale path: the huge leaf is zapped.
   */
  @Test
  void aTableReplacedDuringAYieldIsWalkedAfresh() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x1ff, 1, eptLeaf(1, 0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 1, eptLeaf(1, 0x50001)));
    PageTableCursor other = rig.newCursor();
    rig.yieldAt = call -> call == 1;
    rig.onYield = () -> assertEquals(UpdateStatus.CHANGED,
        other.map(0x200, 2, eptLeaf(2, 0x60000)));
    assertEquals(2, rig.cursor.zapRange(0x1ff, 0x201));
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x200, 2), 2).kind());
    assertEquals(DescriptorKind.EMPTY, ept(rig.entryAt(0x1ff, 1), 1).kind());
  }

  // ---------------------------------------------------------------- freeing emptied tables

  /**
   * stage2_unmap_walker, after each table's children: a table left with no entry is cleared
   * with a range TLBI of its span and put, up to (not including) the root.
   */
  @Test
  void arm64UnmapFreesTheTablesItEmptied() {
    Rig rig = new Rig(ARM64, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 3, arm64Page(0x5000_0000L)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x3ff, 3, arm64Page(0x5000_1000L)));
    PageTablePage l2 = rig.pageAt(0x200, 2);
    PageTablePage l3 = rig.pageAt(0x200, 3);
    assertEquals(2, rig.cursor.zapRangeExclusiveFreeingEmptyTables(0x200, 0x400));
    assertEquals(List.of("flush 0x200+0x1", "flush 0x3ff+0x1", "flush 0x200+0x200",
        "flush 0x0+0x40000"), rig.log);
    assertEquals(List.of(l3, l2), rig.unlinked);
    assertEquals(List.of(l3, l2), rig.deferred);
    assertTrue(rig.tables.containsAll(List.of("unlinked L3 0x200", "unlinked L2 0x0")));
    assertEquals(DescriptorKind.EMPTY, arm64(rig.table.root().entry(0), 1).kind());
    assertTrue(rig.cursor.flushPending());
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 3, arm64Page(0x5000_0000L)));
  }

  /** A table the range only partly covers is freed too once it is empty. */
  @Test
  void arm64UnmapFreesAPartlyCoveredTableThatEndsUpEmpty() {
    Rig rig = new Rig(ARM64, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40205, 3, arm64Page(0x5000_0000L)));
    PageTablePage l2 = rig.pageAt(0x40205, 2);
    PageTablePage l3 = rig.pageAt(0x40205, 3);
    assertEquals(1, rig.cursor.zapRangeExclusiveFreeingEmptyTables(0x40205, 0x40206));
    assertEquals(List.of(l3, l2), rig.deferred);
    assertEquals(List.of("flush 0x40205+0x1", "flush 0x40200+0x200", "flush 0x40000+0x40000"),
        rig.log);
    assertTrue(rig.tables.containsAll(List.of("unlinked L3 0x40200", "unlinked L2 0x40000")));
    assertEquals(DescriptorKind.EMPTY, arm64(rig.table.root().entry(1), 1).kind());
  }

  /** A range that ends just short of a table's last frame frees that table when it empties. */
  @Test
  void arm64UnmapEndingInsideATableFreesItWhenEmptied() {
    Rig rig = new Rig(ARM64, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x3fe, 3, arm64Page(0x5000_0000L)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 3, arm64Page(0x5000_1000L)));
    PageTablePage l3 = rig.pageAt(0x3fe, 3);
    assertEquals(1, rig.cursor.zapRangeExclusiveFreeingEmptyTables(0x3fe, 0x3ff));
    assertEquals(List.of(l3), rig.deferred);
    assertEquals(DescriptorKind.EMPTY, arm64(rig.entryAt(0x3fe, 2), 2).kind());
    assertEquals(DescriptorKind.LEAF, arm64(rig.entryAt(0x400, 3), 3).kind());
  }

  /** A table with an entry left, first or last, keeps its page (page count above one). */
  @Test
  void arm64UnmapKeepsATableWithAnEntryLeft() {
    for (long zapped : new long[] {0x200, 0x3ff}) {
      Rig rig = new Rig(ARM64, 64, true);
      assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 3, arm64Page(0x5000_0000L)));
      assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x3ff, 3, arm64Page(0x5000_1000L)));
      assertEquals(1, rig.cursor.zapRangeExclusiveFreeingEmptyTables(zapped, zapped + 1));
      assertEquals(List.of(), rig.deferred, hex(zapped));
      assertEquals(DescriptorKind.TABLE, arm64(rig.entryAt(0x200, 2), 2).kind(), hex(zapped));
      long kept = zapped == 0x200 ? 0x3ff : 0x200;
      assertEquals(DescriptorKind.LEAF, arm64(rig.entryAt(kept, 3), 3).kind(), hex(zapped));
    }
  }

  /**
   * A plain exclusive zap leaves emptied tables linked; the freeing unmap frees no block and
   * no table with an entry left, but frees an emptied table its range visits even with no leaf
   * left to zap (TABLE_POST visits every table entry of the range).
   */
  @Test
  void onlyTheFreeingUnmapFreesTablesAndOnlyEmptyOnes() {
    Rig rig = new Rig(ARM64, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 3, arm64Page(0x5000_0000L)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 2, arm64Block(0x4000_0000L)));
    assertEquals(1, rig.cursor.zapRangeExclusive(0x200, 0x201));
    assertEquals(List.of(), rig.deferred);
    assertEquals(DescriptorKind.TABLE, arm64(rig.entryAt(0x200, 2), 2).kind());
    assertEquals(1, rig.cursor.zapRangeExclusiveFreeingEmptyTables(0x400, 0x600));
    assertEquals(List.of(), rig.deferred);
    PageTablePage l2 = rig.pageAt(0x200, 2);
    PageTablePage l3 = rig.pageAt(0x200, 3);
    assertEquals(0, rig.cursor.zapRangeExclusiveFreeingEmptyTables(0x200, 0x201));
    assertEquals(List.of(l3, l2), rig.deferred);
  }

  // ---------------------------------------------------------------- RISC-V covered leaves

  /**
   * gstage_wp_range changes a leaf only when the frame is aligned to it and the rest of the
   * range spans it; stepping from an unaligned frame skips later huge leaves too.
   */
  @Test
  void riscvWriteProtectSkipsHugeLeavesTheRangeOnlyPartlyCovers() {
    Rig rig = new Rig(RISCV, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 1, riscvLeaf(0x60000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x400, 1, riscvLeaf(0x60200)));
    assertEquals(0, rig.cursor.writeProtectCoveredLeaves(0x201, 0x600));
    assertEquals(0, rig.cursor.writeProtectCoveredLeaves(0x200, 0x3ff));
    assertFalse(rig.cursor.flushPending());
    assertTrue(riscv(rig.entryAt(0x200, 1), 1).writable());
    assertEquals(1, rig.cursor.writeProtectCoveredLeaves(0x200, 0x400));
    assertTrue(rig.cursor.flushPending());
    assertFalse(riscv(rig.entryAt(0x200, 1), 1).writable());
    assertEquals(riscvLeaf(0x60000) & ~RISCV_W, rig.entryAt(0x200, 1));
    assertTrue(riscv(rig.entryAt(0x400, 1), 1).writable());
    assertEquals(0, rig.cursor.writeProtectCoveredLeaves(0x200, 0x400));
  }

  /** A write-protection update that lost its race is tried again. */
  @Test
  void riscvWriteProtectRetriesAnUpdateThatLostTheRace() {
    Rig rig = new Rig(RISCV, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 0, riscvLeaf(0x50000)));
    rig.losses = 1;
    assertEquals(1, rig.cursor.writeProtectCoveredLeaves(0x10, 0x11));
    assertFalse(riscv(rig.entryAt(0x10, 0), 0).writable());
  }

  /**
   * gstage_unmap_range steps from an empty entry by that entry's size, and yields
   * (cond_resched_lock) between steps, never after the last.
   */
  @Test
  void riscvUnmapStepsByTheSizeOfTheEntryThatEndedTheWalk() {
    Rig rig = new Rig(RISCV, 64, true);
    assertEquals(0, rig.cursor.zapCoveredLeaves(0, 3 * 0x40000));
    assertEquals(2, rig.yieldCalls);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40001, 0, riscvLeaf(0x50001)));
    rig.log.clear();
    assertEquals(1, rig.cursor.zapCoveredLeaves(1, 0x40002));
    assertEquals(0, rig.entryAt(0x40001, 0));
    assertEquals(List.of("flush 0x40001+0x1"), rig.log);
  }

  /**
   * gstage_unmap_range clears each covered leaf, flushed as it goes, and yields with nothing to
   * flush first; the range is clipped to the guest address width.
   */
  @Test
  void riscvUnmapClearsCoveredLeavesAndYieldsBetweenThem() {
    Rig rig = new Rig(RISCV, 64, true);
    long limit = 1L << rig.geometry().gfnBits();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0, 0, riscvLeaf(0x50000)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(1, 0, riscvLeaf(0x50001)));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(limit - 1, 0, riscvLeaf(0x50002)));
    rig.log.clear();
    rig.flushFirst = false;
    rig.yieldAt = call -> call == 1;
    assertEquals(2, rig.cursor.zapCoveredLeaves(0, 2));
    assertEquals(List.of("flush 0x0+0x1", "yield", "flush 0x1+0x1"), rig.log);
    assertEquals(0, rig.entryAt(0, 0));
    assertEquals(0, rig.entryAt(1, 0));
    rig.yieldAt = call -> false;
    assertEquals(1, rig.cursor.zapCoveredLeaves(limit - 1, Long.MAX_VALUE));
    assertEquals(0, rig.entryAt(limit - 1, 0));
  }

  /**
   * A valid non-leaf PTE at level 0 points at no table: gstage_get_leaf_entry finds no leaf
   * there, a new leaf simply replaces it, and gstage_op_pte never descends below level 0.
   */
  @Test
  void riscvNonLeafEntryAtTheLastLevelIsNoTable() {
    Rig rig = new Rig(RISCV, 64, true);
    long pointer = (0x70000L << 10) | 1;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 0, pointer));
    assertFalse(rig.cursor.walk(0x10));
    assertEquals(0, rig.cursor.level());
    assertEquals(pointer, rig.cursor.entry());
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x10, 0, riscvLeaf(0x50010)));
    assertEquals(riscvLeaf(0x50010), rig.entryAt(0x10, 0));
    assertEquals(List.of(), rig.deferred);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x11, 0, pointer));
    PageTablePage l0 = rig.pageAt(0x11, 0);
    rig.cursor.zapAll();
    assertEquals(0, l0.entry(0x11));
    assertEquals(2, rig.deferred.size());
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Tearing a root down zaps every root entry and unlinks every table below it, freezing each
   * entry of an unlinked table and reporting it at its own frame (handle_removed_pt); the root
   * stays usable.
   */
  @Test
  void zapAllUnlinksEveryTableAndKeepsTheRoot() {
    Rig rig = ept();
    long small = eptLeaf(1, 0x50005);
    long huge = eptLeaf(2, 0x60000);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x5, 1, small));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, huge));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x800_0000L, 1, eptLeaf(1, 0x50006)));
    PageTablePage l1 = rig.pageAt(0x5, 1);
    PageTablePage l2 = rig.pageAt(0x5, 2);
    rig.tables.clear();
    rig.cursor.zapAll();
    assertEquals(DescriptorKind.EMPTY, ept(rig.table.root().entry(0), 4).kind());
    assertEquals(DescriptorKind.EMPTY, ept(rig.table.root().entry(1), 4).kind());
    assertEquals(6, rig.deferred.size());
    assertFalse(rig.deferred.contains(rig.table.root()));
    assertEquals(
        List.of("unlinked L3 0x0", "unlinked L2 0x0", "unlinked L1 0x0",
            "freed " + hex(l1.physicalAddress()), "freed " + hex(l2.physicalAddress())),
        rig.tables.subList(0, 5));
    assertTrue(rig.tables.containsAll(List.of("unlinked L3 0x8000000", "unlinked L2 0x8000000",
        "unlinked L1 0x8000000")));
    assertTrue(rig.writes.contains(
        new Write(PageTableObserver.WriteKind.ATOMIC, l1, 5, 1, 0x5, small, Spte.FROZEN_SPTE)));
    assertTrue(rig.writes.contains(
        new Write(PageTableObserver.WriteKind.ATOMIC, l2, 1, 2, 0x200, huge, Spte.FROZEN_SPTE)));
    assertEquals(DescriptorKind.FROZEN, ept(l1.entry(5), 1).kind());
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x5, 1, small));
  }

  /** A root entry whose zap lost its race is zapped on the next try. */
  @Test
  void zapAllRetriesARootEntryWhoseZapLostTheRace() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x5, 1, eptLeaf(1, 0x50005)));
    rig.losses = 1;
    rig.cursor.zapAll();
    assertEquals(DescriptorKind.EMPTY, ept(rig.table.root().entry(0), 4).kind());
    assertEquals(3, rig.deferred.size());
  }

  /** A leaf at the root level (a RISC-V 1 GiB page) is zapped and flushed, freeing no table. */
  @Test
  void zapAllZapsARootLevelLeafWithoutFreeingATable() {
    Rig rig = new Rig(RISCV, 64, true);
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x40000, 2, riscvLeaf(0x40000)));
    rig.log.clear();
    rig.cursor.zapAll();
    assertEquals(0, rig.entryAt(0x40000, 2));
    assertEquals(DescriptorKind.EMPTY, riscv(rig.entryAt(0x40000, 2), 2).kind());
    assertEquals(List.of(), rig.deferred);
    assertEquals(List.of("flush 0x40000+0x40000"), rig.log);
  }

  /** A destroyed table hands every page to deferred free, the root last. */
  @Test
  void freeAllFreesEveryTableTheRootLast() {
    Rig rig = ept();
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x5, 1, eptLeaf(1, 0x50005)));
    rig.cursor.freeAll();
    assertEquals(4, rig.deferred.size());
    assertEquals(rig.memory.allocatedTables(), rig.deferred.size());
    assertSame(rig.table.root(), rig.deferred.get(3));
    assertEquals("unlinked L4 0x0", rig.tables.get(rig.tables.size() - 2));
  }

  // ---------------------------------------------------------------- no observer

  /** Without an observer the hardware's bit updates, splits and frees happen all the same. */
  @Test
  void withoutAnObserverEveryChangeStillReachesMemory() {
    Rig rig = new Rig(EPT, 64, false);
    long clean = eptLeaf(2, 0x60000) & ~Spte.DIRTY;
    assertEquals(UpdateStatus.CHANGED, rig.cursor.map(0x200, 2, clean));
    assertTrue(rig.cursor.walk(0x200));
    assertTrue(rig.cursor.hardwareSetBits(clean, Spte.DIRTY));
    assertEquals(clean | Spte.DIRTY, rig.entryAt(0x200, 2));
    assertEquals(UpdateStatus.CHANGED, rig.cursor.splitHuge(0x200));
    assertEquals(EptSpteEncoder.makeSmallSpte(clean | Spte.DIRTY, 1, 7), rig.entryAt(0x207, 1));
    rig.cursor.zapAll();
    assertEquals(3, rig.deferred.size());
    assertEquals(List.of(), rig.writes);
    assertEquals(List.of(), rig.tables);
  }
}
