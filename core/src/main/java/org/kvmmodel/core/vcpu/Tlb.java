package org.kvmmodel.core.vcpu;

import java.util.Arrays;
import java.util.function.IntToLongFunction;
import org.kvmmodel.api.kvm.GuestAccess;

/**
 * A vCPU's TLB for guest-physical translations: a direct-mapped cache of gfn → host pfn with
 * the permissions the stage-2 leaf granted when it was filled. It keeps what it cached until
 * it is flushed, which is exactly why KVM must flush after taking permissions away.
 */
public final class Tlb {

  private static final long EMPTY = -1;

  /**
   * Set in a cached entry once a write has gone through the walk (the hardware set the dirty
   * bit then): a write through an entry without it walks again, as x86 does to set EPT D.
   */
  public static final int DIRTY_SEEN = 1 << 3;

  private final int mask;
  private final long[] gfns;
  private final long[] pfns;
  private final int[] permissions;
  private final byte[] levels;
  private long flushes;

  public Tlb(int entries) {
    if (Integer.bitCount(entries) != 1) {
      throw new IllegalArgumentException("TLB size must be a power of two: " + entries);
    }
    this.mask = entries - 1;
    this.gfns = new long[entries];
    this.pfns = new long[entries];
    this.permissions = new int[entries];
    this.levels = new byte[entries];
    Arrays.fill(gfns, EMPTY);
  }

  /**
   * The cached pfn for {@code gfn} if its permissions include {@code access} (and, for a write,
   * the dirty state was already set by a walk), else -1.
   */
  public long lookup(long gfn, int access) {
    int i = (int) gfn & mask;
    int need = (access & GuestAccess.WRITE) != 0 ? access | DIRTY_SEEN : access;
    return gfns[i] == gfn && (permissions[i] & need) == need ? pfns[i] : -1;
  }

  /**
   * Caches a translation the hardware walk produced from a leaf at {@code level} (the arch's
   * kernel numbering): the size of the leaf is part of a TLB entry, as on real TLBs.
   */
  public void fill(long gfn, long pfn, int perms, int level) {
    int i = (int) gfn & mask;
    gfns[i] = gfn;
    pfns[i] = pfn;
    permissions[i] = perms;
    levels[i] = (byte) level;
  }

  /** Drops everything ({@code kvm_vcpu_flush_tlb_all}). */
  public void flush() {
    Arrays.fill(gfns, EMPTY);
    flushes++;
  }

  /**
   * Drops every translation whose leaf overlaps {@code [startGfn, endGfn)}, as an invalidation
   * by IPA range does: an entry filled from a block goes if any page of the block is in the
   * range. {@code leafPages} gives the pages a leaf at a level maps.
   */
  public void invalidateRange(long startGfn, long endGfn, IntToLongFunction leafPages) {
    for (int i = 0; i < gfns.length; i++) {
      if (gfns[i] == EMPTY) {
        continue;
      }
      long span = leafPages.applyAsLong(levels[i]);
      long base = gfns[i] & -span;
      if (base < endGfn && startGfn < base + span) {
        gfns[i] = EMPTY;
      }
    }
  }

  /** The cached pfn for {@code gfn} whatever the permissions, or -1: for checks. */
  public long cachedPfn(long gfn) {
    int i = (int) gfn & mask;
    return gfns[i] == gfn ? pfns[i] : -1;
  }

  /** The level of the leaf the translation of {@code gfn} came from, or -1 if none is cached. */
  public int cachedLevel(long gfn) {
    int i = (int) gfn & mask;
    return gfns[i] == gfn ? levels[i] : -1;
  }

  /** The cached permissions for {@code gfn}, or 0. */
  public int cachedPermissions(long gfn) {
    int i = (int) gfn & mask;
    return gfns[i] == gfn ? permissions[i] : 0;
  }

  /** One cached translation. */
  @FunctionalInterface
  public interface Entry {
    void visit(long gfn, long pfn, int permissions, int level);
  }

  /** Visits every cached translation, in slot order. */
  public void forEach(Entry visitor) {
    for (int i = 0; i < gfns.length; i++) {
      if (gfns[i] != EMPTY) {
        visitor.visit(gfns[i], pfns[i], permissions[i], levels[i]);
      }
    }
  }

  public long flushes() {
    return flushes;
  }
}
