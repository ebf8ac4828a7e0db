package org.kvmmodel.arch.arm64;

/**
 * {@code enum kvm_pgtable_prot} with its kernel values, and {@code stage2_set_prot_attr}: how
 * the stage-2 code turns a requested protection into leaf attribute bits for a table with or
 * without FEAT_S2FWB.
 */
final class Stage2Prot {

  /** {@code KVM_PGTABLE_PROT_X}. */
  static final int X = 1;

  /** {@code KVM_PGTABLE_PROT_W}. */
  static final int W = 1 << 1;

  /** {@code KVM_PGTABLE_PROT_R}. */
  static final int R = 1 << 2;

  /** {@code KVM_PGTABLE_PROT_DEVICE}. */
  static final int DEVICE = 1 << 3;

  /** {@code KVM_PGTABLE_PROT_NORMAL_NC}. */
  static final int NORMAL_NC = 1 << 4;

  private Stage2Prot() {}

  /**
   * {@code stage2_set_prot_attr}: MemAttr for normal, normal non-cacheable or device memory
   * ({@code KVM_S2_MEMATTR}, FWB or not), XN unless {@code X}, S2AP from {@code R}/{@code W},
   * SH = inner shareable, AF always set. No software bits are requested by the fault path.
   *
   * @throws IllegalArgumentException for device or non-cacheable memory with {@code X}, or
   *     both at once, which the kernel refuses with -EINVAL
   */
  static long attributes(int prot, boolean fwb) {
    int memAttr;
    switch (prot & (DEVICE | NORMAL_NC)) {
      case DEVICE | NORMAL_NC:
        throw new IllegalArgumentException("device and normal-NC at once");
      case DEVICE:
        requireNoExec(prot);
        memAttr = fwb ? Stage2Pte.MT_S2_FWB_DEVICE_NGNRE : Stage2Pte.MT_S2_DEVICE_NGNRE;
        break;
      case NORMAL_NC:
        requireNoExec(prot);
        memAttr = fwb ? Stage2Pte.MT_S2_FWB_NORMAL_NC : Stage2Pte.MT_S2_NORMAL_NC;
        break;
      default:
        memAttr = fwb ? Stage2Pte.MT_S2_FWB_NORMAL : Stage2Pte.MT_S2_NORMAL;
    }
    long attr = (long) memAttr << Stage2Pte.MEMATTR_SHIFT;
    if ((prot & X) == 0) {
      attr |= Stage2Pte.XN;
    }
    if ((prot & R) != 0) {
      attr |= Stage2Pte.S2AP_R;
    }
    if ((prot & W) != 0) {
      attr |= Stage2Pte.S2AP_W;
    }
    return attr | Stage2Pte.SH_IS | Stage2Pte.AF;
  }

  /**
   * The bits {@code kvm_pgtable_stage2_relax_perms} sets ({@code S2AP_R}, {@code S2AP_W}) for
   * {@code prot}; XN is what it clears for {@code X}.
   */
  static long relaxSetBits(int prot) {
    return ((prot & R) != 0 ? Stage2Pte.S2AP_R : 0) | ((prot & W) != 0 ? Stage2Pte.S2AP_W : 0);
  }

  /** The bits relax-perms clears: XN when {@code X} is granted. */
  static long relaxClearBits(int prot) {
    return (prot & X) != 0 ? Stage2Pte.XN : 0;
  }

  private static void requireNoExec(int prot) {
    if ((prot & X) != 0) {
      throw new IllegalArgumentException("executable device or non-cacheable memory");
    }
  }
}
