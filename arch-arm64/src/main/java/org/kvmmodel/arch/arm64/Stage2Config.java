package org.kvmmodel.arch.arm64;

import java.util.Locale;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.pt.PageTableGeometry;

/**
 * What VTCR_EL2 and the host say about one VM's stage 2 ({@code kvm_get_vtcr},
 * {@code kvm_init_stage2_mmu}, {@code __kvm_pgtable_stage2_init}): the granule (always the
 * host's {@code PAGE_SIZE}), the IPA size (T0SZ), the start level (SL0) and how many tables
 * are concatenated at it, plus the CPU features KVM enables: FEAT_S2FWB (forced write-back
 * memory types), hardware Access-flag updates (VTCR_EL2.HA) and MTE for the guest.
 *
 * @param granuleShift log2 of the translation granule: 12, 14 or 16
 * @param ipaBits the guest physical address size, {@code KVM_VM_TYPE_ARM_IPA_SIZE}
 * @param fwb whether {@code stage2_has_fwb}
 * @param hardwareAccessFlag whether VTCR_EL2.HA is set, so the walker sets AF itself
 * @param mte whether {@code kvm_has_mte} (KVM_CAP_ARM_MTE enabled for the VM)
 */
record Stage2Config(
    int granuleShift, int ipaBits, boolean fwb, boolean hardwareAccessFlag, boolean mte) {

  /** {@code ARM64_MIN_PARANGE_BITS}. */
  static final int MIN_IPA_BITS = 32;

  /** {@code kvm_get_parange_max} without LPA2 or 52-bit PAs. */
  static final int MAX_IPA_BITS = 48;

  Stage2Config {
    if (granuleShift != 12 && granuleShift != 14 && granuleShift != 16) {
      throw new IllegalArgumentException("no " + (1 << (granuleShift - 10)) + " KiB granule");
    }
    if (ipaBits < MIN_IPA_BITS || ipaBits > MAX_IPA_BITS) {
      throw new IllegalArgumentException(
          "IPA size " + ipaBits + " is outside " + MIN_IPA_BITS + ".." + MAX_IPA_BITS);
    }
  }

  /** The configuration one of {@link Arm64Plugin}'s configurations describes. */
  static Stage2Config of(ArchConfiguration configuration) {
    return new Stage2Config(
        granuleShift(configuration.parameter("granule")),
        Integer.parseInt(configuration.parameter("ipa")),
        "on".equals(configuration.parameter("fwb")),
        "on".equals(configuration.parameter("hw-access-flag")),
        "on".equals(configuration.parameter("mte")));
  }

  /** {@code 4k}, {@code 16k}, {@code 64k} as a shift. */
  static int granuleShift(String granule) {
    switch (granule) {
      case "4k":
        return 12;
      case "16k":
        return 14;
      case "64k":
        return 16;
      default:
        throw new IllegalArgumentException("unknown granule '" + granule + "'");
    }
  }

  /** Index bits of a full table level: {@code PAGE_SHIFT - 3}. */
  int tableBits() {
    return granuleShift - 3;
  }

  /** {@code ARM64_HW_PGTABLE_LEVEL_SHIFT(level)}: what one entry at {@code level} maps. */
  int levelShift(int level) {
    return tableBits() * (Stage2Pte.LAST_LEVEL + 1 - level) + 3;
  }

  /**
   * {@code stage2_pgtable_levels(ipa)} = {@code ARM64_HW_PGTABLE_LEVELS(ipa - 4)}, at least 2
   * as {@code kvm_get_vtcr} enforces; the 4 bits are the up-to-16 concatenated root tables.
   */
  int levels() {
    return Math.max(2, (ipaBits - 4 - 4) / tableBits());
  }

  /** {@code KVM_PGTABLE_LAST_LEVEL + 1 - levels}, what VTCR_EL2.SL0 encodes. */
  int startLevel() {
    return Stage2Pte.LAST_LEVEL + 1 - levels();
  }

  /** Index bits the (concatenated) root resolves: IPA bits above the start level's shift. */
  int rootIndexBits() {
    return ipaBits - levelShift(startLevel());
  }

  /**
   * {@code kvm_pgd_pages}: concatenated tables at the start level, {@code 2^(root index bits -
   * table bits)}, at least one (the root of a smaller IPA space is a partly used single table).
   */
  int rootPages() {
    int extraBits = rootIndexBits() - tableBits();
    return extraBits <= 0 ? 1 : 1 << extraBits;
  }

  /** {@code KVM_PGTABLE_MIN_BLOCK_LEVEL}: 1 for 4 KiB, 2 for 16 and 64 KiB granules. */
  int minBlockLevel() {
    return granuleShift == 12 ? 1 : 2;
  }

  /** The radix shape: start level first, kernel levels rising toward the page level. */
  PageTableGeometry geometry() {
    int levels = levels();
    int start = startLevel();
    int[] bits = new int[levels];
    boolean[] leaves = new boolean[levels];
    for (int depth = 0; depth < levels; depth++) {
      bits[depth] = depth == 0 ? rootIndexBits() : tableBits();
      leaves[depth] = start + depth >= minBlockLevel();
    }
    return new PageTableGeometry(granuleShift, bits, start, 1, leaves);
  }

  /** The granule for reports: {@code 4k}, {@code 16k}, {@code 64k}. */
  String granuleName() {
    return (1 << (granuleShift - 10)) + "k";
  }

  /** A short description, e.g. {@code 4k granule, ipa 40, 3 levels from L1 (2 root pages)}. */
  String describe() {
    return String.format(
        Locale.US, "%s granule, ipa %d, %d levels from L%d (%d root page%s), fwb %s, ha %s, mte %s",
        granuleName(), ipaBits, levels(), startLevel(), rootPages(), rootPages() == 1 ? "" : "s",
        onOff(fwb), onOff(hardwareAccessFlag), onOff(mte));
  }

  private static String onOff(boolean b) {
    return b ? "on" : "off";
  }
}
