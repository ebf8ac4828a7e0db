package org.kvmmodel.arch.riscv;

/**
 * The bits of a RISC-V Sv39/Sv48/Sv57 page-table entry as a G-stage table uses them
 * ({@code arch/riscv/include/asm/pgtable-bits.h}, {@code pgtable.h}; the Privileged
 * Architecture's PTE formats and the H extension's guest-physical translation), and the
 * helpers KVM builds G-stage entries with: {@code pfn_pte}, {@code pte_mkdirty},
 * {@code pte_young}, {@code pte_wrprotect} and {@code gstage_pte_leaf}.
 *
 * <p>An entry is a leaf when any of R, W, X is set; a pointer to the next table carries V
 * only ({@code _PAGE_TABLE}). KVM's software view of "something is here" is a non-zero
 * value ({@code pte_val(*ptep)} in {@code gstage_get_leaf_entry} and {@code gstage_set_pte}).
 */
final class GstagePte {

  /** {@code _PAGE_PRESENT}: V. */
  static final long V = 1L;
  /** {@code _PAGE_READ}. */
  static final long R = 1L << 1;
  /** {@code _PAGE_WRITE}. */
  static final long W = 1L << 2;
  /** {@code _PAGE_EXEC}. */
  static final long X = 1L << 3;
  /** {@code _PAGE_USER}: every G-stage access is a user access, so leaves need it. */
  static final long U = 1L << 4;
  /** {@code _PAGE_GLOBAL}: reserved in G-stage entries. */
  static final long G = 1L << 5;
  /** {@code _PAGE_ACCESSED}. */
  static final long A = 1L << 6;
  /** {@code _PAGE_DIRTY}. */
  static final long D = 1L << 7;
  /** {@code _PAGE_SOFT}: the two bits reserved for software. */
  static final long RSW_MASK = 3L << 8;
  static final int RSW_SHIFT = 8;
  /** {@code _PAGE_PFN_SHIFT}. */
  static final int PFN_SHIFT = 10;
  /** {@code _PAGE_PFN_MASK}: PPN, bits 53:10. */
  static final long PFN_MASK = ((1L << 44) - 1) << PFN_SHIFT;
  /** Svpbmt's memory type, bits 62:61: 0 PMA, 1 NC, 2 IO, 3 reserved. */
  static final int PBMT_SHIFT = 61;
  static final long PBMT_MASK = 3L << PBMT_SHIFT;
  /** {@code _PAGE_NAPOT}: Svnapot's N. */
  static final long N = 1L << 63;
  /** Bits 60:54, reserved for future standard use. */
  static final long RESERVED_MASK = ((1L << 7) - 1) << 54;

  /** {@code _PAGE_LEAF}. */
  static final long LEAF_MASK = R | W | X;
  /** {@code _PAGE_TABLE}: what a pointer to the next-level table carries besides its PPN. */
  static final long PAGE_TABLE = V;
  /** {@code _PAGE_BASE}: what every leaf KVM maps starts from. */
  static final long PAGE_BASE = V | A | U;
  /** {@code PAGE_READ}. */
  static final long PAGE_READ = PAGE_BASE | R;
  /** {@code PAGE_WRITE}: readable and writable. */
  static final long PAGE_WRITE = PAGE_BASE | R | W;
  /** {@code PAGE_READ_EXEC}. */
  static final long PAGE_READ_EXEC = PAGE_BASE | R | X;
  /** {@code PAGE_WRITE_EXEC}. */
  static final long PAGE_WRITE_EXEC = PAGE_BASE | R | W | X;

  private GstagePte() {}

  /** {@code pfn_pte}: the entry for frame {@code pfn} with protection bits {@code prot}. */
  static long pfnPte(long pfn, long prot) {
    return ((pfn << PFN_SHIFT) & PFN_MASK) | prot;
  }

  /** {@code pte_pfn}. */
  static long pfn(long pte) {
    return (pte & PFN_MASK) >>> PFN_SHIFT;
  }

  /** {@code pte_mkdirty}. */
  static long mkdirty(long pte) {
    return pte | D;
  }

  /** {@code gstage_pte_leaf}: any of R, W, X. */
  static boolean isLeaf(long pte) {
    return (pte & LEAF_MASK) != 0;
  }

  /** {@code pte_young}. */
  static boolean isYoung(long pte) {
    return (pte & A) != 0;
  }

  /** The memory type field. */
  static int pbmt(long pte) {
    return (int) ((pte & PBMT_MASK) >>> PBMT_SHIFT);
  }

  /**
   * {@code gstage_map_page}'s leaf: the protection one of {@code PAGE_READ},
   * {@code PAGE_WRITE}, {@code PAGE_READ_EXEC}, {@code PAGE_WRITE_EXEC}, then {@code pfn_pte}
   * and {@code pte_mkdirty}, so A and D are set from the start whether the hart updates them
   * in hardware (Svadu) or faults when they are clear (Svade).
   */
  static long mapPage(long pfn, boolean readOnly, boolean exec) {
    long prot =
        exec
            ? (readOnly ? PAGE_READ_EXEC : PAGE_WRITE_EXEC)
            : (readOnly ? PAGE_READ : PAGE_WRITE);
    return mkdirty(pfnPte(pfn, prot));
  }
}
