package org.kvmmodel.arch.x86;

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

/**
 * Reads one EPT SPTE the way KVM's predicates in {@code arch/x86/kvm/mmu/spte.h} classify it:
 * the non-present value, {@code FROZEN_SPTE}, MMIO SPTEs with their memslot generation,
 * shadow-present table entries and leaves, and access-tracked leaves. A value KVM 6.13 never
 * writes (bit 11 clear without being one of the special values, PS at level 4 or 5, or a
 * leaf breaking {@code check_spte_writable_invariants}) decodes as invalid, with the reason.
 *
 * <p>The level is required: bit 7 means "huge leaf" only at levels 2 and 3.
 */
public final class EptDescriptorFormat implements DescriptorFormat {

  private static final String[] AD_TYPES = {"enabled", "disabled", "wrprot-only", "reserved"};

  private final int levels;
  private final boolean adEnabled;

  /** A decoder for EPT with {@code levels} levels whose VM has A/D bits on or off. */
  public EptDescriptorFormat(int levels, boolean adEnabled) {
    if (levels != 4 && levels != 5) {
      throw new IllegalArgumentException("EPT has 4 or 5 levels, not " + levels);
    }
    this.levels = levels;
    this.adEnabled = adEnabled;
  }

  @Override
  public String name() {
    return String.format(Locale.US, "ept %d-level, a/d %s", levels, adEnabled ? "on" : "off");
  }

  @Override
  public int minLevel() {
    return 1;
  }

  @Override
  public int maxLevel() {
    return levels;
  }

  @Override
  public boolean levelRequired() {
    return true;
  }

  @Override
  public DecodedDescriptor decode(long value, OptionalInt maybeLevel) {
    if (maybeLevel.isEmpty()) {
      throw new IllegalArgumentException("an EPT entry's meaning depends on its level; give one");
    }
    int level = maybeLevel.getAsInt();
    if (level < 1 || level > levels) {
      throw new IllegalArgumentException(
          String.format(Locale.US, "level %d is outside 1..%d for %s", level, levels, name()));
    }
    List<DescriptorField> fields = new ArrayList<>();
    fields.add(new DescriptorField("value", "", hex(value)));
    fields.add(new DescriptorField("level", "", Integer.toString(level)));
    boolean hwValid = (value & Spte.RWX_MASK) != 0 && (value & 0x3) != Spte.WRITABLE;
    if (value == Spte.SHADOW_NONPRESENT_VALUE) {
      return simple(value, level, DescriptorKind.EMPTY, fields, "SHADOW_NONPRESENT_VALUE");
    }
    if (Spte.isFrozenSpte(value)) {
      return simple(value, level, DescriptorKind.FROZEN, fields, "FROZEN_SPTE");
    }
    if (Spte.isMmioSpte(value)) {
      long generation = Spte.mmioSpteGeneration(value);
      long gfn = Spte.mmioSpteGfn(value);
      fields.add(new DescriptorField("kind", "", DescriptorKind.MMIO.label()));
      fields.add(new DescriptorField("valid", "", "false"));
      fields.add(new DescriptorField("rwx", "2:0", "0b110 (misconfiguration)"));
      fields.add(new DescriptorField("mmio-generation", "62:52,10:3", hex(generation)));
      fields.add(new DescriptorField("mmio-gfn", "51:12", hex(gfn)));
      fields.add(new DescriptorField("mmio-gpa", "51:12", hex(gfn << 12)));
      return new DecodedDescriptor(
          value, OptionalInt.of(level), DescriptorKind.MMIO, false, false, false,
          false, false, false, false, false,
          OptionalLong.empty(), OptionalLong.empty(), OptionalLong.of(generation), fields);
    }
    if (!Spte.isShadowPresentPte(value)) {
      return invalid(value, level, fields, hwValid, "not shadow-present (bit 11 clear) and not a special value");
    }
    boolean leaf = Spte.isLastSpte(value, level);
    if (leaf && level > 3) {
      return invalid(value, level, fields, hwValid, "page size (bit 7) set at level " + level);
    }
    String violation = leaf ? Spte.writableInvariantViolation(value) : null;
    if (violation != null) {
      return invalid(value, level, fields, hwValid, violation);
    }
    boolean tracked = leaf && Spte.isAccessTrackSpte(value);
    DescriptorKind kind =
        !leaf ? DescriptorKind.TABLE : tracked ? DescriptorKind.ACCESS_TRACKED : DescriptorKind.LEAF;
    long address = value & Spte.BASE_ADDR_MASK;
    OptionalLong size = leaf ? OptionalLong.of(Spte.pagesPerHugePage(level) << 12) : OptionalLong.empty();
    fields.add(new DescriptorField("kind", "", kind.label()));
    fields.add(new DescriptorField("valid", "", Boolean.toString(hwValid)));
    fields.add(flag("mmu-present", "11", value, Spte.MMU_PRESENT));
    fields.add(flag("read", "0", value, Spte.READABLE));
    fields.add(flag("write", "1", value, Spte.WRITABLE));
    fields.add(flag("execute", "2", value, Spte.EXECUTABLE));
    if (leaf) {
      int memtype = (int) ((value & Spte.MEMTYPE_MASK) >>> Spte.MEMTYPE_SHIFT);
      fields.add(new DescriptorField("memtype", "5:3", memtype + " (" + memtypeName(memtype) + ")"));
      fields.add(flag("ignore-pat", "6", value, Spte.IGNORE_PAT));
      fields.add(flag("page-size", "7", value, Spte.PAGE_SIZE));
    }
    fields.add(flag("accessed", "8", value, Spte.ACCESSED));
    if (leaf) {
      fields.add(flag("dirty", "9", value, Spte.DIRTY));
    }
    int adType = (int) ((value & Spte.AD_MASK) >>> Spte.AD_SHIFT);
    fields.add(new DescriptorField("ad-type", "53:52", AD_TYPES[adType]));
    if (leaf) {
      fields.add(flag("saved-read", "54", value, Spte.READABLE << Spte.ACC_TRACK_SAVED_SHIFT));
      fields.add(flag("saved-execute", "56", value, Spte.EXECUTABLE << Spte.ACC_TRACK_SAVED_SHIFT));
      fields.add(flag("host-writable", "57", value, Spte.HOST_WRITABLE));
      fields.add(flag("mmu-writable", "58", value, Spte.MMU_WRITABLE));
    }
    fields.add(flag("suppress-ve", "63", value, Spte.SUPPRESS_VE));
    fields.add(new DescriptorField(leaf ? "page-address" : "table-address", "51:12", hex(address)));
    if (leaf) {
      fields.add(new DescriptorField("mapping-size", "", sizeName(size.getAsLong())));
    }
    boolean readable = (value & Spte.READABLE) != 0;
    boolean writable = Spte.isWritablePte(value);
    boolean executable = (value & Spte.EXECUTABLE) != 0;
    return new DecodedDescriptor(
        value, OptionalInt.of(level), kind, hwValid, leaf, !leaf,
        readable, writable, executable, Spte.isAccessedSpte(value),
        leaf && Spte.isDirtySpte(value), OptionalLong.of(address), size, OptionalLong.empty(),
        fields);
  }

  private static DecodedDescriptor simple(
      long value, int level, DescriptorKind kind, List<DescriptorField> fields, String name) {
    fields.add(new DescriptorField("kind", "", kind.label()));
    fields.add(new DescriptorField("valid", "", "false"));
    fields.add(new DescriptorField("special", "", name));
    fields.add(flag("suppress-ve", "63", value, Spte.SUPPRESS_VE));
    return new DecodedDescriptor(
        value, OptionalInt.of(level), kind, false, false, false, false, false, false, false, false,
        OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), fields);
  }

  private static DecodedDescriptor invalid(
      long value, int level, List<DescriptorField> fields, boolean hwValid, String problem) {
    fields.add(new DescriptorField("kind", "", DescriptorKind.INVALID.label()));
    fields.add(new DescriptorField("valid", "", Boolean.toString(hwValid)));
    fields.add(new DescriptorField("problem", "", problem));
    return new DecodedDescriptor(
        value, OptionalInt.of(level), DescriptorKind.INVALID, hwValid, false, false,
        (value & Spte.READABLE) != 0, Spte.isWritablePte(value), (value & Spte.EXECUTABLE) != 0,
        false, false, OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), fields);
  }

  private static String memtypeName(int memtype) {
    switch (memtype) {
      case 0:
        return "uc";
      case 1:
        return "wc";
      case 4:
        return "wt";
      case 5:
        return "wp";
      case 6:
        return "wb";
      default:
        return "reserved";
    }
  }
}
