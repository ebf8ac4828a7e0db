package org.kvmmodel.core.mm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A four-level radix page table of {@code long} entries (PGD → PUD → PMD → PTE, 9 bits each
 * over a 48-bit address space). A PUD or PMD slot holds either a leaf entry (a 1 GiB or 2 MiB
 * mapping) or a pointer to the next table, never both. A PTE table is a bare {@code long[512]}:
 * eight bytes per 4 KiB entry.
 *
 * <p>Writers hold the owning mm's page-table lock. Readers may walk without it, as gup_fast
 * and host_pfn_mapping_level do: entries and table pointers are published with release
 * stores and read with acquire loads, and a table that is unlinked stays reachable to a racing
 * reader until the garbage collector proves it unreferenced, which stands in for the RCU grace
 * period Linux waits before freeing page-table pages.
 */
final class PageTable {

  static final int ENTRIES = 512;
  static final int PTE_SHIFT = 12;
  static final int PMD_SHIFT = 21;
  static final int PUD_SHIFT = 30;
  static final int PGD_SHIFT = 39;
  static final long PMD_SIZE = 1L << PMD_SHIFT;
  static final long PUD_SIZE = 1L << PUD_SHIFT;
  static final long TASK_SIZE = 1L << 48;

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
    final long[] leaf = new long[ENTRIES];
    final PmdTable[] next = new PmdTable[ENTRIES];
  }

  private static final class PmdTable {
    final long[] leaf = new long[ENTRIES];
    final long[][] next = new long[ENTRIES][];
  }

  private final PudTable[] pgd = new PudTable[ENTRIES];

  private static int index(long address, int shift) {
    return (int) ((address >>> shift) & (ENTRIES - 1));
  }

  /** The leaf entry translating {@code address} at whatever level, or 0; lockless. */
  long lookup(long address) {
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, index(address, PGD_SHIFT));
    if (pud == null) {
      return 0;
    }
    int i = index(address, PUD_SHIFT);
    long e = (long) LONGS.getAcquire(pud.leaf, i);
    if (e != 0) {
      return e;
    }
    PmdTable pmd = (PmdTable) PMDS.getAcquire(pud.next, i);
    if (pmd == null) {
      return 0;
    }
    int j = index(address, PMD_SHIFT);
    e = (long) LONGS.getAcquire(pmd.leaf, j);
    if (e != 0) {
      return e;
    }
    long[] pte = (long[]) PTES.getAcquire(pmd.next, j);
    return pte == null ? 0 : (long) LONGS.getAcquire(pte, index(address, PTE_SHIFT));
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

  private static int slotIndex(long address, int level) {
    switch (level) {
      case HostPte.LEVEL_PUD:
        return index(address, PUD_SHIFT);
      case HostPte.LEVEL_PMD:
        return index(address, PMD_SHIFT);
      default:
        return index(address, PTE_SHIFT);
    }
  }

  private long[] leafSlots(long address, int level) {
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, index(address, PGD_SHIFT));
    if (pud == null) {
      return null;
    }
    if (level == HostPte.LEVEL_PUD) {
      return pud.leaf;
    }
    PmdTable pmd = (PmdTable) PMDS.getAcquire(pud.next, index(address, PUD_SHIFT));
    if (pmd == null) {
      return null;
    }
    if (level == HostPte.LEVEL_PMD) {
      return pmd.leaf;
    }
    return (long[]) PTES.getAcquire(pmd.next, index(address, PMD_SHIFT));
  }

  /**
   * Stores {@code value} as the leaf for {@code address} at {@code level}, allocating tables
   * on the way (pte_alloc / pmd_alloc). Installing a huge leaf requires the slot to hold no
   * table with live entries; an empty one is unlinked first.
   */
  void set(long address, int level, long value) {
    int gi = index(address, PGD_SHIFT);
    PudTable pud = (PudTable) PUDS.getAcquire(pgd, gi);
    if (pud == null) {
      pud = new PudTable();
      PUDS.setRelease(pgd, gi, pud);
    }
    int ui = index(address, PUD_SHIFT);
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
      pmd = new PmdTable();
      PMDS.setRelease(pud.next, ui, pmd);
    }
    int mi = index(address, PMD_SHIFT);
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
      pte = new long[ENTRIES];
      PTES.setRelease(pmd.next, mi, pte);
    }
    LONGS.setRelease(pte, index(address, PTE_SHIFT), value);
  }

  /** Whether the 2 MiB region at {@code address} has no PMD leaf and no live PTE. */
  boolean pmdRegionEmpty(long address) {
    PudTable pud = pgd[index(address, PGD_SHIFT)];
    if (pud == null) {
      return true;
    }
    int ui = index(address, PUD_SHIFT);
    if (pud.leaf[ui] != 0) {
      return false;
    }
    PmdTable pmd = pud.next[ui];
    if (pmd == null) {
      return true;
    }
    int mi = index(address, PMD_SHIFT);
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
    for (int i = 0; i < ENTRIES; i++) {
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
      PudTable pud = pgd[index(addr, PGD_SHIFT)];
      long pgdEnd = Math.min(end, ((addr >>> PGD_SHIFT) + 1) << PGD_SHIFT);
      if (pud == null) {
        addr = pgdEnd;
        continue;
      }
      while (addr < pgdEnd) {
        int ui = index(addr, PUD_SHIFT);
        long pudEnd = Math.min(pgdEnd, ((addr >>> PUD_SHIFT) + 1) << PUD_SHIFT);
        long leaf = pud.leaf[ui];
        if (leaf != 0) {
          long base = addr & ~(PUD_SIZE - 1);
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
          int mi = index(addr, PMD_SHIFT);
          long pmdEnd = Math.min(pudEnd, ((addr >>> PMD_SHIFT) + 1) << PMD_SHIFT);
          long pl = pmd.leaf[mi];
          if (pl != 0) {
            long base = addr & ~(PMD_SIZE - 1);
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
            for (long a = addr; a < pmdEnd; a += 1L << PTE_SHIFT) {
              int pi = index(a, PTE_SHIFT);
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
    for (long addr = start & ~(PMD_SIZE - 1); addr < end; addr += PMD_SIZE) {
      PudTable pud = pgd[index(addr, PGD_SHIFT)];
      if (pud == null) {
        addr = (((addr >>> PGD_SHIFT) + 1) << PGD_SHIFT) - PMD_SIZE;
        continue;
      }
      PmdTable pmd = pud.next[index(addr, PUD_SHIFT)];
      if (pmd == null) {
        addr = (((addr >>> PUD_SHIFT) + 1) << PUD_SHIFT) - PMD_SIZE;
        continue;
      }
      int mi = index(addr, PMD_SHIFT);
      if (pmd.next[mi] != null && pteTableEmpty(pmd.next[mi])) {
        PTES.setRelease(pmd.next, mi, null);
      }
      if (mi == ENTRIES - 1 || addr + PMD_SIZE >= end) {
        int ui = index(addr, PUD_SHIFT);
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
