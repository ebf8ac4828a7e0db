package org.kvmmodel.arch.riscv;

import java.util.Locale;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * The G-stage translation modes of hgatp.MODE on RV64 ({@code arch/riscv/include/asm/csr.h},
 * {@code kvm_riscv_gstage_mode_detect}): a 9-bit-per-level Sv39/48/57 table whose root
 * resolves two extra index bits, so it is 16 KiB (four pages, 2048 entries) and the guest
 * physical address space is four times the stage-1 one ({@code gstage_pgd_xbits},
 * {@code gstage_pgd_size}, {@code gstage_gpa_bits}).
 *
 * <p>Levels are numbered as {@code gstage_pte_index} numbers them: 0 maps 4 KiB, the root is
 * {@code levels - 1}. KVM's fault path maps only 4 KiB, 2 MiB and 1 GiB leaves
 * ({@code PAGE_SIZE}, {@code PMD_SIZE}, {@code PUD_SIZE} in {@code kvm_riscv_gstage_map}), so
 * leaves are allowed at levels 0-2 only.
 */
enum GstageMode {
  SV39X4(8, 3),
  SV48X4(9, 4),
  SV57X4(10, 5);

  /** {@code gstage_index_bits} on RV64. */
  static final int INDEX_BITS = 9;
  /** {@code gstage_pgd_xbits}. */
  static final int PGD_XBITS = 2;
  /** {@code HGATP_PAGE_SHIFT}. */
  static final int PAGE_SHIFT = 12;
  /** The highest level KVM puts a leaf at (1 GiB). */
  static final int MAX_LEAF_LEVEL = 2;

  private final int hgatpMode;
  private final int levels;

  GstageMode(int hgatpMode, int levels) {
    this.hgatpMode = hgatpMode;
    this.levels = levels;
  }

  /** {@code HGATP_MODE_SV*X4}. */
  int hgatpMode() {
    return hgatpMode;
  }

  /** {@code gstage_pgd_levels}. */
  int levels() {
    return levels;
  }

  /** {@code gstage_gpa_bits}: 12 + 9 per level + 2. */
  int gpaBits() {
    return PAGE_SHIFT + levels * INDEX_BITS + PGD_XBITS;
  }

  /** The configuration value, e.g. {@code sv39x4}. */
  String label() {
    return name().toLowerCase(Locale.US);
  }

  /** The mode called {@code label}. */
  static GstageMode of(String label) {
    for (GstageMode m : values()) {
      if (m.label().equals(label)) {
        return m;
      }
    }
    throw new IllegalArgumentException("no G-stage mode '" + label + "'");
  }

  /** The table's shape: an x4 root over 9-bit levels, levels numbered down to 0. */
  PageTableGeometry geometry() {
    int[] bits = new int[levels];
    boolean[] leaves = new boolean[levels];
    for (int depth = 0; depth < levels; depth++) {
      bits[depth] = depth == 0 ? INDEX_BITS + PGD_XBITS : INDEX_BITS;
      leaves[depth] = levels - 1 - depth <= MAX_LEAF_LEVEL;
    }
    return new PageTableGeometry(PAGE_SHIFT, bits, levels - 1, -1, leaves);
  }
}
