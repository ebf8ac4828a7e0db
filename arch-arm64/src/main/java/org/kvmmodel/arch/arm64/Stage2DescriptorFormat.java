package org.kvmmodel.arch.arm64;

import static org.kvmmodel.api.pt.DescriptorText.flag;
import static org.kvmmodel.api.pt.DescriptorText.hex;
import static org.kvmmodel.api.pt.DescriptorText.sizeName;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.api.pt.DescriptorFormat;
import org.kvmmodel.api.pt.DescriptorKind;
import org.kvmmodel.api.pt.DescriptorText;

/**
 * Reads one stage-2 descriptor of a configuration the way {@code kvm_pgtable.h}'s predicates
 * and the VMSAv8-64 stage-2 formats do: zero (empty), {@code KVM_INVALID_PTE_LOCKED} (an entry
 * mid break-before-make), table, block and page descriptors with their attributes. Levels are
 * arm64's own (3 is the page level) and must be given, since bit 1 means "table" above level 3
 * and "page" at it. A value KVM never writes (another invalid encoding, a block below the
 * granule's {@code KVM_PGTABLE_MIN_BLOCK_LEVEL}, DBM or the contiguous hint set) decodes as
 * invalid with the reason; the hardware's view ({@code valid}) is reported beside it.
 */
final class Stage2DescriptorFormat implements DescriptorFormat {

  private final Stage2Config config;

  Stage2DescriptorFormat(Stage2Config config) {
    this.config = config;
  }

  @Override
  public String name() {
    return "arm64 stage 2, " + config.describe();
  }

  @Override
  public int minLevel() {
    return config.startLevel();
  }

  @Override
  public int maxLevel() {
    return Stage2Pte.LAST_LEVEL;
  }

  @Override
  public boolean levelRequired() {
    return true;
  }

  @Override
  public DecodedDescriptor decode(long value, OptionalInt maybeLevel) {
    if (maybeLevel.isEmpty()) {
      throw new IllegalArgumentException(
          "a stage-2 descriptor's meaning depends on its level; give one");
    }
    int level = maybeLevel.getAsInt();
    if (level < minLevel() || level > maxLevel()) {
      throw new IllegalArgumentException(
          String.format(
              Locale.US, "level %d is outside %d..%d for %s", level, minLevel(), maxLevel(),
              name()));
    }
    List<DescriptorField> fields = new ArrayList<>();
    fields.add(new DescriptorField("value", "", hex(value)));
    fields.add(new DescriptorField("level", "", Integer.toString(level)));
    if (value == 0) {
      return notValid(value, level, DescriptorKind.EMPTY, fields, "empty");
    }
    if (Stage2Pte.isLocked(value)) {
      fields.add(flag("locked", "10", value, Stage2Pte.INVALID_PTE_LOCKED));
      return notValid(value, level, DescriptorKind.FROZEN, fields, "KVM_INVALID_PTE_LOCKED");
    }
    if (!Stage2Pte.isValid(value)) {
      return invalid(value, level, fields, false, "invalid (bit 0 clear) and not a value KVM writes");
    }
    int shift = config.granuleShift();
    long address = value & Stage2Pte.addressMask(shift);
    if (Stage2Pte.isTable(value, level)) {
      fields.add(new DescriptorField("kind", "", DescriptorKind.TABLE.label()));
      fields.add(new DescriptorField("valid", "", "true"));
      fields.add(new DescriptorField("type", "1", "table"));
      fields.add(new DescriptorField("table-address", "47:" + shift, hex(address)));
      return new DecodedDescriptor(
          value, OptionalInt.of(level), DescriptorKind.TABLE, true, false, true,
          false, false, false, false, false,
          OptionalLong.of(address), OptionalLong.empty(), OptionalLong.empty(), fields);
    }
    boolean page = level == Stage2Pte.LAST_LEVEL;
    if (!page && level < config.minBlockLevel()) {
      return invalid(value, level, fields, false,
          "block descriptor at level " + level + " (blocks start at level "
              + config.minBlockLevel() + " with a " + config.granuleName() + " granule)");
    }
    long size = 1L << config.levelShift(level);
    if ((address & (size - 1)) != 0) {
      return invalid(value, level, fields, true, "block address not aligned to its size");
    }
    if ((value & (Stage2Pte.DBM | Stage2Pte.CONTIGUOUS)) != 0) {
      leafFields(value, page, address, size, fields);
      return invalid(value, level, fields, true,
          "DBM or the contiguous hint set, which KVM never does at stage 2");
    }
    leafFields(value, page, address, size, fields);
    boolean readable = (value & Stage2Pte.S2AP_R) != 0;
    boolean writable = (value & Stage2Pte.S2AP_W) != 0;
    boolean executable = (value & Stage2Pte.XN) == 0;
    return new DecodedDescriptor(
        value, OptionalInt.of(level), DescriptorKind.LEAF, true, true, false,
        readable, writable, executable, (value & Stage2Pte.AF) != 0, false,
        OptionalLong.of(address), OptionalLong.of(size), OptionalLong.empty(), fields);
  }

  private void leafFields(
      long value, boolean page, long address, long size, List<DescriptorField> fields) {
    int shift = config.granuleShift();
    int memAttr = (int) ((value & Stage2Pte.MEMATTR_MASK) >>> Stage2Pte.MEMATTR_SHIFT);
    fields.add(new DescriptorField("kind", "", DescriptorKind.LEAF.label()));
    fields.add(new DescriptorField("valid", "", "true"));
    fields.add(new DescriptorField("type", "1", page ? "page" : "block"));
    fields.add(new DescriptorField("memattr", "5:2",
        String.format(Locale.US, "%#x (%s)", memAttr, memAttrName(memAttr))));
    fields.add(flag("s2ap-read", "6", value, Stage2Pte.S2AP_R));
    fields.add(flag("s2ap-write", "7", value, Stage2Pte.S2AP_W));
    fields.add(new DescriptorField("shareability", "9:8",
        shareabilityName((int) ((value & Stage2Pte.SH_MASK) >>> 8))));
    fields.add(flag("access-flag", "10", value, Stage2Pte.AF));
    fields.add(flag("dbm", "51", value, Stage2Pte.DBM));
    fields.add(flag("contiguous", "52", value, Stage2Pte.CONTIGUOUS));
    fields.add(flag("xn", "54", value, Stage2Pte.XN));
    fields.add(new DescriptorField("software", "58:55",
        hex((value & Stage2Pte.SW_MASK) >>> Stage2Pte.SW_SHIFT)));
    fields.add(new DescriptorField("output-address", "47:" + shift, hex(address)));
    fields.add(new DescriptorField("mapping-size", "", sizeName(size)));
  }

  private String memAttrName(int memAttr) {
    if (config.fwb()) {
      switch (memAttr) {
        case Stage2Pte.MT_S2_FWB_NORMAL:
          return "normal write-back, forced";
        case Stage2Pte.MT_S2_FWB_NORMAL_NC:
          return "normal non-cacheable";
        case Stage2Pte.MT_S2_FWB_DEVICE_NGNRE:
          return "device-nGnRE";
        default:
          return "not written by KVM";
      }
    }
    switch (memAttr) {
      case Stage2Pte.MT_S2_NORMAL:
        return "normal write-back";
      case Stage2Pte.MT_S2_NORMAL_NC:
        return "normal non-cacheable";
      case Stage2Pte.MT_S2_DEVICE_NGNRE:
        return "device-nGnRE";
      default:
        return "not written by KVM";
    }
  }

  private static String shareabilityName(int sh) {
    switch (sh) {
      case 0:
        return "non-shareable";
      case 2:
        return "outer";
      case 3:
        return "inner";
      default:
        return "reserved";
    }
  }

  private static DecodedDescriptor notValid(
      long value, int level, DescriptorKind kind, List<DescriptorField> fields, String name) {
    return DescriptorText.mapsNothing(value, level, kind, false, fields, "special", name);
  }

  private static DecodedDescriptor invalid(
      long value, int level, List<DescriptorField> fields, boolean hwValid, String problem) {
    return DescriptorText.mapsNothing(
        value, level, DescriptorKind.INVALID, hwValid, fields, "problem", problem);
  }
}
