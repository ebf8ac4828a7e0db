package org.kvmmodel.core.mm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.kvmmodel.api.kvm.HostPageSize;

/**
 * A radix page table of {@code long} entries over a 48-bit address space, shaped by the host's
 * page size ({@link HostPageSize}): PGD → PUD → PMD → PTE with {@code PAGE_SHIFT - 3} index bits
 * per level (9 for 4 KiB pages, 11 for 16 KiB, 13 for 64 KiB); a 64 KiB host has three levels,
 * its PUD folded into the PGD as a one-entry table. A PUD or PMD slot holds either a leaf entry
 * (a PUD- or PMD-sized mapping) or a pointer to the next table, never both. A PTE table is a
 * bare {@code long[]} of one entry per base page.
 *
 * <p>Writers hold the owning mm's page-table lock. Readers may walk without it, as gup_fast
 * and host_pfn_mapping_level do: entries and table pointers are published with release
 * stores and read with acquire loads, and a table that is unlinked stays reachable to a racing
 * reader until the garbage collector proves it unreferenced, which stands in for the RCU grace
 * period Linux waits before freeing page-table pages.
 */
final class PageTable {

  static final long TASK_SIZE = 1L << HostPageSize.VA_BITS;

  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle PMDS = MethodHandles.arrayElementVarHandle(PmdTable[].class);
  private static final VarHandle PTES = MethodHandles.arrayElementVarHandle(long[][].class);
  private static final VarHandle PUDS = MethodHandles.arrayElementVarHandle(PudTable[].class);

  /** Visits one leaf; returns the value to store (the same value leaves it untouched). */
  @FunctionalInterface
  interface LeafVisitor {
    long visit(long address, long entry);
  }

  private static final class PudTable {
    final long[] leaf;
    final PmdTable[] next;

    PudTable(int entries) {
      leaf = new long[entries];
      next = new PmdTable[entries];
    }
  }

  private static final class PmdTable {
    final long[] leaf;
    final long[][] next;

    PmdTable(int entries) {
      leaf = new long[entries];
      next = new long[entries][];
    }
  }

  private final int pteShift;
  private final int pmdShift;
  private final int pudShift;
  private final int pgdShift;
  private final long pmdSize;
  private final long pudSize;
  /** Entries of a PTE, PMD and PUD table ({@code PTRS_PER_PTE}, ...; 1 for a folded PUD). */
  private final int pteEntries;
  private final int pmdEntries;
  private final int pudEntries;
  private final PudTable[] pgd;

  PageTable(HostPageSize size) {
    this.pteShift = size.shift();
    this.pmdShift = size.pmdShift();
    this.pudShift = size.pudShift();
    this.pgdShift = size.pgdShift();
    this.pmdSize = size.pmdSize();
    this.pudSize = size.pudSize();
    this.pteEntries = 1 << (pmdShift - pteShift);
    this.pmdEntries = 1 << (pudShift - pmdShift);
    this.pudEntries = 1 << (pgdShift - pudShift);
    this.pgd = new PudTable[1 << (HostPageSize.VA_BITS - pgdShift)];
  }

  private static int index(long address, int shift, int entries) {
    return (int) ((address >>> shift) & (entries - 1));
  }

  private int pgdIndex(long address) {
    return (int) (address >>> pgdShift) & (pgd.length - 1);
  }

  private int pudIndex(long address) {
    return index(address, pudShift, pudEntries);
  }

  private int pmdIndex(long address) {
    return index(address, pmdShift, pmdEntries);
  }

  private int pteIndex(long address) {
    return index(address, pteShift, pteEntries);
  }

  /** The leaf entry translating {@code address} at whatever level, or 0; lockless. */
  long lookup(long address) {
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, pgdIndex(address));
    if (pud == null) {
      return 0;
    }
    int i = pudIndex(address);
    long e = (long) LONGS.getAcquire(pud.leaf, i);
    if (e != 0) {
      return e;
    }
    PmdTable pmd = (PmdTable) PMDS.getAcquire(pud.next, i);
    if (pmd == null) {
      return 0;
    }
    int j = pmdIndex(address);
    e = (long) LONGS.getAcquire(pmd.leaf, j);
    if (e != 0) {
      return e;
    }
    long[] pte = (long[]) PTES.getAcquire(pmd.next, j);
    return pte == null ? 0 : (long) LONGS.getAcquire(pte, pteIndex(address));
  }

  /**
   * Atomically replaces the leaf for {@code address} at the level of {@code expect} if it
   * still holds {@code expect}: the cmpxchg the CPU uses to set accessed and dirty bits.
   */
  boolean compareAndSet(long address, long expect, long update) {
    long[] slots = leafSlots(address, HostPte.level(expect) == 0 ? 1 : HostPte.level(expect));
    if (slots == null) {
      return false;
    }
    return LONGS.compareAndSet(slots, slotIndex(address, HostPte.level(expect)), expect, update);
  }

  private int slotIndex(long address, int level) {
    switch (level) {
      case HostPte.LEVEL_PUD:
        return pudIndex(address);
      case HostPte.LEVEL_PMD:
        return pmdIndex(address);
      default:
        return pteIndex(address);
    }
  }

  private long[] leafSlots(long address, int level) {
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, pgdIndex(address));
    if (pud == null) {
      return null;
    }
    if (level == HostPte.LEVEL_PUD) {
      return pud.leaf;
    }
    PmdTable pmd = (PmdTable) PMDS.getAcquire(pud.next, pudIndex(address));
    if (pmd == null) {
      return null;
    }
    if (level == HostPte.LEVEL_PMD) {
      return pmd.leaf;
    }
    return (long[]) PTES.getAcquire(pmd.next, pmdIndex(address));
  }

  /**
   * Stores {@code value} as the leaf for {@code address} at {@code level}, allocating tables
   * on the way (pte_alloc / pmd_alloc). Installing a huge leaf requires the slot to hold no
   * table with live entries; an empty one is unlinked first.
   */
  void set(long address, int level, long value) {
    int gi = pgdIndex(address);
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, gi);
    if (pud == null) {
      pud = new PudTable(pudEntries);
      PUDS.setRelease(pgd, gi, pud);
    }
    int ui = pudIndex(address);
    if (level == HostPte.LEVEL_PUD) {
      PmdTable below = pud.next[ui];
      if (below != null) {
        if (!pmdTableEmpty(below)) {
          throw new IllegalStateException("PUD leaf over a live PMD table");
        }
        PMDS.setRelease(pud.next, ui, null);
      }
      LONGS.setRelease(pud.leaf, ui, value);
      return;
    }
    if (pud.leaf[ui] != 0) {
      throw new IllegalStateException("table below a PUD leaf");
    }
    PmdTable pmd = (PmdTable) PMDS.getAcquire(pud.next, ui);
    if (pmd == null) {
      pmd = new PmdTable(pmdEntries);
      PMDS.setRelease(pud.next, ui, pmd);
    }
    int mi = pmdIndex(address);
    if (level == HostPte.LEVEL_PMD) {
      long[] below = pmd.next[mi];
      if (below != null) {
        if (!pteTableEmpty(below)) {
          throw new IllegalStateException("PMD leaf over a live PTE table");
        }
        PTES.setRelease(pmd.next, mi, null);
      }
      LONGS.setRelease(pmd.leaf, mi, value);
      return;
    }
    if (pmd.leaf[mi] != 0) {
      throw new IllegalStateException("PTE table below a PMD leaf");
    }
    long[] pte = (long[]) PTES.getAcquire(pmd.next, mi);
    if (pte == null) {
      pte = new long[pteEntries];
      PTES.setRelease(pmd.next, mi, pte);
    }
    LONGS.setRelease(pte, pteIndex(address), value);
  }

  /** Whether the PMD-sized region at {@code address} has no PMD leaf and no live PTE. */
  boolean pmdRegionEmpty(long address) {
    PudTable pud = pgd[pgdIndex(address)];
    if (pud == null) {
      return true;
    }
    int ui = pudIndex(address);
    if (pud.leaf[ui] != 0) {
      return false;
    }
    PmdTable pmd = pud.next[ui];
    if (pmd == null) {
      return true;
    }
    int mi = pmdIndex(address);
    return pmd.leaf[mi] == 0 && (pmd.next[mi] == null || pteTableEmpty(pmd.next[mi]));
  }

  private static boolean pteTableEmpty(long[] pte) {
    for (long e : pte) {
      if (e != 0) {
        return false;
      }
    }
    return true;
  }

  private static boolean pmdTableEmpty(PmdTable pmd) {
    for (int i = 0; i < pmd.leaf.length; i++) {
      if (pmd.leaf[i] != 0 || (pmd.next[i] != null && !pteTableEmpty(pmd.next[i]))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Visits every non-empty leaf whose first address lies in {@code [start, end)}, in address
   * order, skipping absent tables; the visitor's result is stored back when it differs. A huge
   * leaf is visited once, at its aligned address. Caller holds the page-table lock.
   */
  void walk(long start, long end, LeafVisitor visitor) {
    long addr = start;
    while (addr < end) {
      PudTable pud = pgd[pgdIndex(addr)];
      long pgdEnd = Math.min(end, ((addr >>> pgdShift) + 1) << pgdShift);
      if (pud == null) {
        addr = pgdEnd;
        continue;
      }
      while (addr < pgdEnd) {
        int ui = pudIndex(addr);
        long pudEnd = Math.min(pgdEnd, ((addr >>> pudShift) + 1) << pudShift);
        long leaf = pud.leaf[ui];
        if (leaf != 0) {
          long base = addr & ~(pudSize - 1);
          if (base >= start) {
            long updated = visitor.visit(base, leaf);
            if (updated != leaf) {
              LONGS.setRelease(pud.leaf, ui, updated);
            }
          }
          addr = pudEnd;
          continue;
        }
        PmdTable pmd = pud.next[ui];
        if (pmd == null) {
          addr = pudEnd;
          continue;
        }
        while (addr < pudEnd) {
          int mi = pmdIndex(addr);
          long pmdEnd = Math.min(pudEnd, ((addr >>> pmdShift) + 1) << pmdShift);
          long pl = pmd.leaf[mi];
          if (pl != 0) {
            long base = addr & ~(pmdSize - 1);
            if (base >= start) {
              long updated = visitor.visit(base, pl);
              if (updated != pl) {
                LONGS.setRelease(pmd.leaf, mi, updated);
              }
            }
            addr = pmdEnd;
            continue;
          }
          long[] pte = pmd.next[mi];
          if (pte != null) {
            for (long a = addr; a < pmdEnd; a += 1L << pteShift) {
              int pi = pteIndex(a);
              long e = pte[pi];
              if (e != 0) {
                long updated = visitor.visit(a, e);
                if (updated != e) {
                  LONGS.setRelease(pte, pi, updated);
                }
              }
            }
          }
          addr = pmdEnd;
        }
      }
    }
  }

  /**
   * Unlinks PTE and PMD tables left with no entries inside {@code [start, end)}
   * (free_pgtables). Caller holds the page-table lock.
   */
  void freeEmptyTables(long start, long end) {
    for (long addr = start & ~(pmdSize - 1); addr < end; addr += pmdSize) {
      PudTable pud = pgd[pgdIndex(addr)];
      if (pud == null) {
        addr = (((addr >>> pgdShift) + 1) << pgdShift) - pmdSize;
        continue;
      }
      PmdTable pmd = pud.next[pudIndex(addr)];
      if (pmd == null) {
        addr = (((addr >>> pudShift) + 1) << pudShift) - pmdSize;
        continue;
      }
      int mi = pmdIndex(addr);
      if (pmd.next[mi] != null && pteTableEmpty(pmd.next[mi])) {
        PTES.setRelease(pmd.next, mi, null);
      }
      if (mi == pmdEntries - 1 || addr + pmdSize >= end) {
        int ui = pudIndex(addr);
        if (pmdTableEmpty(pmd)) {
          PMDS.setRelease(pud.next, ui, null);
        }
      }
    }
  }

  /** Number of PTE tables currently linked: the page-table memory in use, for tests. */
  long pteTableCount() {
    long n = 0;
    for (PudTable pud : pgd) {
      if (pud == null) {
        continue;
      }
      for (PmdTable pmd : pud.next) {
        if (pmd == null) {
          continue;
        }
        for (long[] pte : pmd.next) {
          if (pte != null) {
            n++;
          }
        }
      }
    }
    return n;
  }
}
