package org.kvmmodel.core.mm;

import java.util.Locale;

/**
 * Encoding of a stage-1 (host) page-table entry in one {@code long}, at any level.
 *
 * <pre>
 * bit  0      present (hardware-valid)
 * bit  1      writable
 * bit  2      dirty
 * bit  3      young (accessed)
 * bit  4      special (no struct page to account: zero page, PFNMAP)
 * bits 5-6    level: 1 = PTE (one base page), 2 = PMD leaf, 3 = PUD leaf (sizes per HostPageSize)
 * bit  7      PROT_NONE (not hardware-valid, but still maps the pfn, as x86's _PAGE_PROTNONE)
 * bits 8-10   software entry type when not present: swap, migration (read / write), hwpoison
 * bits 12-63  pfn, or the swap slot of a swap entry
 * </pre>
 *
 * Zero is the empty entry ({@code pte_none}). Migration entries keep the young and dirty bits
 * of the entry they replaced, as Linux does where the architecture has room for them.
 */
public final class HostPte {

  /** Hardware-valid. */
  public static final long PRESENT = 1L;
  /** Writable. */
  public static final long WRITE = 1L << 1;
  /** Dirty. */
  public static final long DIRTY = 1L << 2;
  /** Accessed. */
  public static final long YOUNG = 1L << 3;
  /** Special: maps a pfn whose struct page (if any) is not refcounted by this mapping. */
  public static final long SPECIAL = 1L << 4;
  /** PROT_NONE: maps the pfn but any access faults. */
  public static final long PROTNONE = 1L << 7;

  /** Level of a PTE: one base page. */
  public static final int LEVEL_PTE = 1;
  /** Level of a PMD leaf ({@code PMD_SIZE}). */
  public static final int LEVEL_PMD = 2;
  /** Level of a PUD leaf ({@code PUD_SIZE}). */
  public static final int LEVEL_PUD = 3;

  /** Software type of a swap entry. */
  public static final int SWP_SWAP = 1;
  /** Software type of a read migration entry. */
  public static final int SWP_MIGRATION_READ = 2;
  /** Software type of a write migration entry (the old entry was writable). */
  public static final int SWP_MIGRATION_WRITE = 3;
  /** Software type of a hwpoison entry. */
  public static final int SWP_HWPOISON = 4;

  private static final int LEVEL_SHIFT = 5;
  private static final int TYPE_SHIFT = 8;
  private static final int PFN_SHIFT = 12;

  private HostPte() {}

  /**
   * A present leaf mapping {@code pfn} at {@code level} with those of {@code bits} that are
   * permission or state bits ({@link #WRITE}, {@link #DIRTY}, {@link #YOUNG},
   * {@link #SPECIAL}).
   */
  public static long make(long pfn, int level, long bits) {
    return (pfn << PFN_SHIFT)
        | ((long) level << LEVEL_SHIFT)
        | (bits & (WRITE | DIRTY | YOUNG | SPECIAL))
        | PRESENT;
  }

  /** A non-present software entry of {@code type} carrying {@code payload} (pfn or slot). */
  public static long makeSwp(int type, long payload, int level, long bits) {
    return (payload << PFN_SHIFT)
        | ((long) type << TYPE_SHIFT)
        | ((long) level << LEVEL_SHIFT)
        | (bits & (DIRTY | YOUNG));
  }

  /** {@code pte_none}. */
  public static boolean isNone(long e) {
    return e == 0;
  }

  /** {@code pte_present} as the MMU sees it: hardware-valid. */
  public static boolean isPresent(long e) {
    return (e & PRESENT) != 0;
  }

  /** Maps a pfn: present or PROT_NONE ({@code pte_present} in the kernel's sense). */
  public static boolean mapsPfn(long e) {
    return (e & (PRESENT | PROTNONE)) != 0;
  }

  /** PROT_NONE entry. */
  public static boolean isProtNone(long e) {
    return (e & PROTNONE) != 0 && (e & PRESENT) == 0;
  }

  /** Writable. */
  public static boolean isWritable(long e) {
    return (e & WRITE) != 0;
  }

  /** Dirty. */
  public static boolean isDirty(long e) {
    return (e & DIRTY) != 0;
  }

  /** Young (accessed). */
  public static boolean isYoung(long e) {
    return (e & YOUNG) != 0;
  }

  /** Special. */
  public static boolean isSpecial(long e) {
    return (e & SPECIAL) != 0;
  }

  /** The level: {@link #LEVEL_PTE}, {@link #LEVEL_PMD} or {@link #LEVEL_PUD}; 0 for none. */
  public static int level(long e) {
    return (int) ((e >>> LEVEL_SHIFT) & 3);
  }

  /** The pfn mapped, or the pfn a migration or hwpoison entry refers to. */
  public static long pfn(long e) {
    return e >>> PFN_SHIFT;
  }

  /** The software type of a non-present entry, 0 for none or for a mapping entry. */
  public static int swpType(long e) {
    return mapsPfn(e) ? 0 : (int) ((e >>> TYPE_SHIFT) & 7);
  }

  /** A swap entry. */
  public static boolean isSwap(long e) {
    return swpType(e) == SWP_SWAP;
  }

  /** A migration entry, read or write. */
  public static boolean isMigration(long e) {
    int t = swpType(e);
    return t == SWP_MIGRATION_READ || t == SWP_MIGRATION_WRITE;
  }

  /** A write migration entry. */
  public static boolean isMigrationWrite(long e) {
    return swpType(e) == SWP_MIGRATION_WRITE;
  }

  /** A hwpoison entry. */
  public static boolean isHwpoison(long e) {
    return swpType(e) == SWP_HWPOISON;
  }

  /** A readable rendering for messages and tests. */
  public static String describe(long e) {
    if (e == 0) {
      return "none";
    }
    String lvl = level(e) == LEVEL_PUD ? "PUD" : level(e) == LEVEL_PMD ? "PMD" : "PTE";
    if (mapsPfn(e)) {
      return String.format(
          Locale.US,
          "%s pfn=0x%x %s%s%s%s%s",
          lvl,
          pfn(e),
          isProtNone(e) ? "protnone" : "present",
          isWritable(e) ? " W" : "",
          isDirty(e) ? " D" : "",
          isYoung(e) ? " A" : "",
          isSpecial(e) ? " special" : "");
    }
    String type;
    switch (swpType(e)) {
      case SWP_SWAP:
        type = "swap slot";
        break;
      case SWP_MIGRATION_READ:
        type = "migration-read pfn";
        break;
      case SWP_MIGRATION_WRITE:
        type = "migration-write pfn";
        break;
      case SWP_HWPOISON:
        type = "hwpoison pfn";
        break;
      default:
        type = "unknown";
        break;
    }
    return String.format(Locale.US, "%s %s=0x%x", lvl, type, pfn(e));
  }
}
