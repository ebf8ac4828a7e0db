package org.kvmmodel.arch.riscv;

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
 * Reads one G-stage entry of a mode: 0 is empty, V with none of R/W/X points at the next
 * table, any of R/W/X makes a leaf whose size follows from its level (4 KiB at 0, 2 MiB at 1,
 * 1 GiB at 2). Every field of the PTE is shown (V R W X U G A D, RSW, PPN, PBMT, N). A value
 * that the hart would refuse or that KVM 6.13 never writes decodes as invalid, with the
 * reason: V clear but non-zero, W without R, a pointer at level 0 or carrying A/D/U, a leaf
 * above 1 GiB or without U, G set, reserved bits, PBMT 3, N set, or a superpage whose PPN is
 * not aligned to its size.
 */
final class GstageDescriptorFormat implements DescriptorFormat {

  private static final String[] PBMT = {"pma", "nc", "io", "reserved"};

  /** What a leaf maps at levels 0, 1 and 2. */
  private static final String[] LEAF_SIZES = {"4 KiB", "2 MiB", "1 GiB"};

  private final GstageMode mode;

  GstageDescriptorFormat(GstageMode mode) {
    this.mode = mode;
  }

  @Override
  public String name() {
    return String.format(Locale.US, "riscv g-stage %s (%d levels, %d-bit gpa)",
        mode.label(), mode.levels(), mode.gpaBits());
  }

  @Override
  public int minLevel() {
    return 0;
  }

  @Override
  public int maxLevel() {
    return mode.levels() - 1;
  }

  /** A leaf's size depends on its level. */
  @Override
  public boolean levelRequired() {
    return true;
  }

  @Override
  public DecodedDescriptor decode(long value, OptionalInt maybeLevel) {
    int level = maybeLevel.orElseThrow(
        () -> new IllegalArgumentException("a G-stage leaf's size depends on its level; give one"));
    if (level > maxLevel() || level < minLevel()) {
      throw new IllegalArgumentException(String.format(
          Locale.US, "%s has levels 0 (4 KiB) to %d, not %d", name(), maxLevel(), level));
    }
    List<DescriptorField> fields = new ArrayList<>();
    fields.add(new DescriptorField("value", "", hex(value)));
    fields.add(new DescriptorField("level", "", Integer.toString(level)));
    if (value == 0) {
      fields.add(new DescriptorField("kind", "", DescriptorKind.EMPTY.label()));
      fields.add(new DescriptorField("valid", "", "false"));
      return new DecodedDescriptor(value, OptionalInt.of(level), DescriptorKind.EMPTY,
          false, false, false, false, false, false, false, false,
          OptionalLong.empty(), OptionalLong.empty(), OptionalLong.empty(), fields);
    }
    boolean leaf = GstagePte.isLeaf(value);
    long size = 1L << (GstageMode.PAGE_SHIFT + GstageMode.INDEX_BITS * level);
    String problem = problem(value, level, leaf, size);
    DescriptorKind kind =
        problem != null ? DescriptorKind.INVALID : leaf ? DescriptorKind.LEAF : DescriptorKind.TABLE;
    long address = GstagePte.pfn(value) << GstageMode.PAGE_SHIFT;
    fields.add(new DescriptorField("kind", "", kind.label()));
    fields.add(new DescriptorField("valid", "", Boolean.toString(problem == null)));
    if (problem != null) {
      fields.add(new DescriptorField("problem", "", problem));
    }
    fields.add(flag("v", "0", value, GstagePte.V));
    fields.add(flag("r", "1", value, GstagePte.R));
    fields.add(flag("w", "2", value, GstagePte.W));
    fields.add(flag("x", "3", value, GstagePte.X));
    fields.add(flag("u", "4", value, GstagePte.U));
    fields.add(flag("g", "5", value, GstagePte.G));
    fields.add(flag("a", "6", value, GstagePte.A));
    fields.add(flag("d", "7", value, GstagePte.D));
    fields.add(new DescriptorField("rsw", "9:8",
        Long.toString((value & GstagePte.RSW_MASK) >>> GstagePte.RSW_SHIFT)));
    fields.add(new DescriptorField("ppn", "53:10", hex(GstagePte.pfn(value))));
    fields.add(new DescriptorField("pbmt", "62:61", PBMT[GstagePte.pbmt(value)]));
    fields.add(flag("n", "63", value, GstagePte.N));
    fields.add(new DescriptorField(leaf ? "page-address" : "table-address", "", hex(address)));
    if (leaf) {
      fields.add(new DescriptorField("mapping-size", "", LEAF_SIZES[Math.min(level, LEAF_SIZES.length - 1)]));
    }
    boolean valid = problem == null;
    return new DecodedDescriptor(value, OptionalInt.of(level), kind, valid,
        valid && leaf, valid && !leaf,
        (value & GstagePte.R) != 0, (value & GstagePte.W) != 0, (value & GstagePte.X) != 0,
        leaf && GstagePte.isYoung(value), leaf && (value & GstagePte.D) != 0,
        OptionalLong.of(address), valid && leaf ? OptionalLong.of(size) : OptionalLong.empty(),
        OptionalLong.empty(), fields);
  }

  /** Why the hart or KVM would not have this entry, or null. */
  private static String problem(long value, int level, boolean leaf, long size) {
    if ((value & GstagePte.V) == 0) {
      return "V clear in a non-zero entry (KVM clears entries to 0)";
    }
    if ((value & (GstagePte.R | GstagePte.W)) == GstagePte.W) {
      return "W without R is a reserved encoding";
    }
    if ((value & GstagePte.RESERVED_MASK) != 0) {
      return "reserved bits 60:54 set";
    }
    if (GstagePte.pbmt(value) == 3) {
      return "PBMT 3 is reserved";
    }
    if ((value & GstagePte.N) != 0) {
      return "N (Svnapot) is not used in G-stage entries";
    }
    if ((value & GstagePte.G) != 0) {
      return "G is reserved in G-stage entries";
    }
    if (!leaf) {
      if (level == 0) {
        return "a pointer at level 0, where only leaves can be";
      }
      if ((value & (GstagePte.A | GstagePte.D | GstagePte.U)) != 0) {
        return "A, D or U set in a pointer, where they are reserved";
      }
      return null;
    }
    if (level > GstageMode.MAX_LEAF_LEVEL) {
      return "KVM maps no leaf above 1 GiB (level " + GstageMode.MAX_LEAF_LEVEL + ")";
    }
    if ((value & GstagePte.U) == 0) {
      return "U clear in a leaf: every G-stage access is a user access and would fault";
    }
    long pagesMask = (size >>> GstageMode.PAGE_SHIFT) - 1;
    if ((GstagePte.pfn(value) & pagesMask) != 0) {
      return "misaligned superpage: PPN bits below the level are not zero";
    }
    return null;
  }

  private static DescriptorField flag(String name, String bit, long value, long mask) {
    return new DescriptorField(name, bit, Boolean.toString((value & mask) != 0));
  }

  private static String hex(long value) {
    return String.format(Locale.US, "%#x", value);
  }
}
