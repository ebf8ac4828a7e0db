package org.kvmmodel.api.pt;

import java.util.Arrays;
import java.util.Locale;

/**
 * The shape of a radix page table: page size, number of levels, index bits per level, the
 * architecture's own numbering of its levels and which levels may hold leaves.
 *
 * <p>Engine depth 0 is the root and depth {@code levels() - 1} the last (smallest-page) level.
 * The root may resolve more index bits than one table page holds; it is then made of several
 * physically contiguous pages (arm64 concatenated entry-level tables, RISC-V's 16 KiB x4
 * roots), as {@code kvm_pgd_pages()} and {@code kvm_riscv_gstage_pgd_size} compute. Kernel
 * level numbers are consecutive and run either down toward the leaves (x86: 1 is the 4 KiB
 * level; RISC-V and LoongArch: 0 is the leaf) or up toward them (arm64: 3 is the page level).
 *
 * <p>Addresses inside the engine are guest frame numbers in units of {@code 1 << pageShift}.
 */
public final class PageTableGeometry {

  private final int pageShift;
  private final int[] indexBits;
  private final int[] gfnShift;
  private final int rootKernelLevel;
  private final int levelStep;
  private final boolean[] leafAllowed;

  /**
   * Builds a geometry.
   *
   * @param pageShift log2 of the page (and table page) size; table pages hold
   *     {@code 1 << (pageShift - 3)} eight-byte entries
   * @param indexBits index bits per engine depth, root first; only the root may exceed
   *     {@code pageShift - 3} (concatenation), and no level may have fewer than one bit
   * @param rootKernelLevel the architecture's number for the root level
   * @param levelStep {@code -1} when kernel level numbers fall toward the leaves (x86, RISC-V,
   *     LoongArch), {@code +1} when they rise (arm64)
   * @param leafAllowed per engine depth, whether a leaf (page, huge page or block) may sit there
   */
  public PageTableGeometry(
      int pageShift, int[] indexBits, int rootKernelLevel, int levelStep, boolean[] leafAllowed) {
    if (pageShift < 12 || pageShift > 16) {
      throw new IllegalArgumentException("page shift " + pageShift + " is not 12..16");
    }
    if (indexBits.length == 0 || indexBits.length != leafAllowed.length) {
      throw new IllegalArgumentException("index bits and leaf flags must cover the same levels");
    }
    if (levelStep != 1 && levelStep != -1) {
      throw new IllegalArgumentException("level step must be +1 or -1");
    }
    int tableBits = pageShift - 3;
    int total = 0;
    for (int depth = 0; depth < indexBits.length; depth++) {
      int bits = indexBits[depth];
      if (bits < 1 || bits > tableBits + (depth == 0 ? 4 : 0)) {
        throw new IllegalArgumentException(
            String.format(
                Locale.US, "level at depth %d resolves %d index bits; allowed 1..%d",
                depth, bits, tableBits + (depth == 0 ? 4 : 0)));
      }
      total += bits;
    }
    if (total + pageShift > 64 - 1) {
      throw new IllegalArgumentException("address space of " + (total + pageShift) + " bits");
    }
    if (!leafAllowed[indexBits.length - 1]) {
      throw new IllegalArgumentException("the last level must hold leaves");
    }
    this.pageShift = pageShift;
    this.indexBits = indexBits.clone();
    this.leafAllowed = leafAllowed.clone();
    this.rootKernelLevel = rootKernelLevel;
    this.levelStep = levelStep;
    this.gfnShift = new int[indexBits.length];
    int shift = 0;
    for (int depth = indexBits.length - 1; depth >= 0; depth--) {
      gfnShift[depth] = shift;
      shift += indexBits[depth];
    }
  }

  /** log2 of the page size. */
  public int pageShift() {
    return pageShift;
  }

  /** Number of levels, root included. */
  public int levels() {
    return indexBits.length;
  }

  /** Eight-byte entries in one table page. */
  public int entriesPerPage() {
    return 1 << (pageShift - 3);
  }

  /** Index bits resolved at engine depth {@code depth}. */
  public int indexBits(int depth) {
    return indexBits[depth];
  }

  /** Entries in a table at engine depth {@code depth} (the root may span several pages). */
  public int entries(int depth) {
    return 1 << indexBits[depth];
  }

  /** Contiguous pages that make up the root table. */
  public int rootPages() {
    return Math.max(1, entries(0) / entriesPerPage());
  }

  /** Guest frame number bits the table translates. */
  public int gfnBits() {
    return gfnShift[0] + indexBits[0];
  }

  /** Guest address bits the table translates. */
  public int addressBits() {
    return gfnBits() + pageShift;
  }

  /** Pages of {@code 1 << pageShift} covered by one entry at engine depth {@code depth}. */
  public long pagesPerEntry(int depth) {
    return 1L << gfnShift[depth];
  }

  /** Right shift that turns a gfn into its index at {@code depth} (before masking). */
  public int gfnShift(int depth) {
    return gfnShift[depth];
  }

  /** The index of {@code gfn} in a table at engine depth {@code depth}. */
  public int index(long gfn, int depth) {
    return (int) ((gfn >>> gfnShift[depth]) & ((1L << indexBits[depth]) - 1));
  }

  /** Whether a leaf may sit at engine depth {@code depth}. */
  public boolean leafAllowed(int depth) {
    return leafAllowed[depth];
  }

  /** The architecture's number for engine depth {@code depth}. */
  public int kernelLevel(int depth) {
    return rootKernelLevel + levelStep * depth;
  }

  /** The engine depth of kernel level {@code level}, or -1 when the table has no such level. */
  public int depthOf(int level) {
    int depth = (level - rootKernelLevel) * levelStep;
    return depth >= 0 && depth < indexBits.length ? depth : -1;
  }

  /** Smallest kernel level number this table has. */
  public int minKernelLevel() {
    return Math.min(kernelLevel(0), kernelLevel(levels() - 1));
  }

  /** Largest kernel level number this table has. */
  public int maxKernelLevel() {
    return Math.max(kernelLevel(0), kernelLevel(levels() - 1));
  }

  /** Pages of {@code 1 << pageShift} mapped by a leaf at kernel level {@code level}. */
  public long leafPages(int level) {
    int depth = depthOf(level);
    if (depth < 0) {
      throw new IllegalArgumentException("no level " + level);
    }
    return pagesPerEntry(depth);
  }

  /** Bytes mapped by a leaf at kernel level {@code level}. */
  public long mappingSize(int level) {
    return leafPages(level) << pageShift;
  }

  @Override
  public String toString() {
    return String.format(
        Locale.US, "PageTableGeometry[pageShift=%d, indexBits=%s, rootLevel=%d, step=%d]",
        pageShift, Arrays.toString(indexBits), rootKernelLevel, levelStep);
  }
}
