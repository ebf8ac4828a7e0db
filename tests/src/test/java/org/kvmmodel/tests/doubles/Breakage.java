package org.kvmmodel.tests.doubles;

/** Deliberate bugs a test double can carry, each of which one check must catch. */
public enum Breakage {
  /** A correct double. */
  NONE,
  /** A fast path that marks the folio dirty without mmu_lock (DIRTY-PROTECTED). */
  FAST_PATH_DIRTIES_FOLIO,
  /** A slow path that installs and dirties without the retry check (DIRTY-PROTECTED). */
  SKIPS_RETRY_CHECK,
  /** A fault that never releases its page (REFCOUNT-BALANCED). */
  NEVER_RELEASES,
  /** A fault that releases its page twice (REFCOUNT-BALANCED). */
  RELEASES_TWICE,
  /** An unmap hook that leaves the leaf in place (NO-STALE-MAPPING). */
  UNMAP_LEAVES_LEAF,
  /**
   * A slow path that releases the page dirty only for a write fault ({@code dirty = write}),
   * so a read fault that installs a writable leaf leaves the folio clean (NO-LOST-WRITE).
   */
  RELEASES_DIRTY_ONLY_FOR_WRITE,
  /** A dirty-log re-protect that leaves the first gfn of each mask writable (DIRTY-LOG-COMPLETE). */
  REPROTECT_SKIPS_A_GFN
}
