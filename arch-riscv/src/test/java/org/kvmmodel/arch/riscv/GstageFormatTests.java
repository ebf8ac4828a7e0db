package org.kvmmodel.arch.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.api.pt.DescriptorKind;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableGeometry;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.api.pt.SimpleTableMemory;
import org.kvmmodel.api.pt.UpdateStatus;
import org.kvmmodel.api.pt.WalkControl;

/** The G-stage geometry, the leaves KVM builds, and decoding every kind of entry. */
class GstageFormatTests {

  /** Counts the leaf flushes the format issues; the engine never yields here. */
  private static final class Flushes implements WalkControl {
    long ranges;

    @Override
    public boolean shouldYield() {
      return false;
    }

    @Override
    public void yieldLock() {
      throw new AssertionError("no yield in these walks");
    }

    @Override
    public void flushTlbs() {
      throw new AssertionError("the G-stage format flushes leaf by leaf");
    }

    @Override
    public void flushTlbRange(long gfn, long pages) {
      ranges++;
    }
  }

  private static String field(DecodedDescriptor d, String name) {
    for (DescriptorField f : d.fields()) {
      if (f.name().equals(name)) {
        return f.value();
      }
    }
    throw new AssertionError("no field " + name + " in " + d.fields());
  }

  @Test
  void theRootIsSixteenKibAndTheGpaFourTimesWider() {
    PageTableGeometry sv39 = GstageMode.SV39X4.geometry();
    assertEquals(4, sv39.rootPages());
    assertEquals(2048, sv39.entries(0));
    assertEquals(41, sv39.addressBits());
    assertEquals(41, GstageMode.SV39X4.gpaBits());
    assertEquals(50, GstageMode.SV48X4.geometry().addressBits());
    assertEquals(59, GstageMode.SV57X4.geometry().addressBits());
    assertEquals(2, sv39.kernelLevel(0));
    assertEquals(0, sv39.kernelLevel(2));
    // GPA[40:30] indexes the Sv39x4 root.
    assertEquals(0x7ff, sv39.index((1L << 41) - 1 >>> 12, 0));
  }

  @ParameterizedTest
  @EnumSource(GstageMode.class)
  void leavesOnlyAtFourKibTwoMibAndOneGib(GstageMode mode) {
    PageTableGeometry g = mode.geometry();
    for (int level = 0; level < mode.levels(); level++) {
      assertEquals(level <= 2, g.leafAllowed(g.depthOf(level)), mode + " level " + level);
    }
    assertEquals(1L << 21, g.mappingSize(1));
    assertEquals(1L << 30, g.mappingSize(2));
  }

  @Test
  void aLeafIsBuiltAsMapPageBuildsIt() {
    long rw = GstagePte.mapPage(0x12345, false, true);
    assertEquals((0x12345L << 10) | 0xdf, rw); // V R W X U A D
    long ro = GstagePte.mapPage(0x12345, true, false);
    assertEquals((0x12345L << 10) | 0xd3, ro); // V R U A D
    assertEquals(0x12345, GstagePte.pfn(ro));
  }

  @ParameterizedTest
  @EnumSource(GstageMode.class)
  void encodedLeavesAndPointersDecodeBack(GstageMode mode) {
    GstageDescriptorFormat decoder = new GstageDescriptorFormat(mode);
    GstagePageTableFormat format = new GstagePageTableFormat(mode);
    for (int level = 0; level <= 2; level++) {
      long pfn = 0xabc00L << (9 * level);
      for (int bits = 0; bits < 4; bits++) {
        boolean readOnly = (bits & 1) != 0;
        boolean exec = (bits & 2) != 0;
        long leaf = GstagePte.mapPage(pfn, readOnly, exec);
        DecodedDescriptor d = decoder.decode(leaf, OptionalInt.of(level));
        assertEquals(DescriptorKind.LEAF, d.kind(), d.fields().toString());
        assertTrue(d.valid() && d.leaf() && !d.table() && d.readable() && d.accessed() && d.dirty());
        assertEquals(!readOnly, d.writable());
        assertEquals(exec, d.executable());
        assertEquals(pfn << 12, d.outputAddress().getAsLong());
        assertEquals(format.outputAddress(leaf, level), d.outputAddress().getAsLong());
        assertEquals(4096L << (9 * level), d.mappingSize().getAsLong());
      }
    }
    for (int level = 1; level < mode.levels(); level++) {
      long pointer = format.makeTable(0x8_0000_3000L, level);
      DecodedDescriptor d = decoder.decode(pointer, OptionalInt.of(level));
      assertEquals(DescriptorKind.TABLE, d.kind());
      assertEquals(0x8_0000_3000L, d.outputAddress().getAsLong());
      assertEquals(0x8_0000_3000L, format.outputAddress(pointer, level));
      assertFalse(format.isLeaf(pointer, level));
      assertEquals("0x800003", field(d, "ppn"));
    }
    assertEquals(DescriptorKind.EMPTY, decoder.decode(0, OptionalInt.of(0)).kind());
  }

  @Test
  void everyFieldIsShown() {
    long io = GstagePte.mapPage(0x1000, false, false) | (2L << 61) | (1L << 8);
    DecodedDescriptor d = new GstageDescriptorFormat(GstageMode.SV48X4).decode(io, OptionalInt.of(0));
    assertEquals(DescriptorKind.LEAF, d.kind());
    assertEquals("io", field(d, "pbmt"));
    assertEquals("1", field(d, "rsw"));
    assertEquals("true", field(d, "u"));
    assertEquals("false", field(d, "g"));
    assertEquals("false", field(d, "n"));
    assertEquals("4 KiB", field(d, "mapping-size"));
  }

  @Test
  void valuesKvmNeverWritesAreInvalidWithTheReason() {
    GstageDescriptorFormat decoder = new GstageDescriptorFormat(GstageMode.SV48X4);
    long leaf = GstagePte.mapPage(0x200, false, false);
    assertProblem(decoder, leaf & ~GstagePte.V, 0, "V clear in a non-zero entry");
    assertProblem(decoder, leaf & ~GstagePte.R, 0, "W without R is a reserved encoding");
    assertProblem(decoder, leaf, 3, "KVM maps no leaf above 1 GiB");
    assertProblem(decoder, leaf & ~GstagePte.U, 0, "U clear in a leaf");
    assertProblem(decoder, leaf | GstagePte.G, 0, "G is reserved");
    assertProblem(decoder, leaf | GstagePte.N, 0, "N (Svnapot)");
    assertProblem(decoder, leaf | 3L << 61, 0, "PBMT 3 is reserved");
    assertProblem(decoder, GstagePte.mapPage(0x201, false, false), 1, "misaligned superpage");
    assertProblem(decoder, GstagePte.PAGE_TABLE | 0x400, 0, "a pointer at level 0");
    assertProblem(decoder, GstagePte.PAGE_TABLE | GstagePte.A | 0x400, 1, "A, D or U set");
    assertThrows(IllegalArgumentException.class, () -> decoder.decode(leaf, OptionalInt.of(4)));
    assertThrows(IllegalArgumentException.class, () -> decoder.decode(leaf, OptionalInt.empty()));
  }

  private static void assertProblem(
      GstageDescriptorFormat decoder, long value, int level, String reason) {
    DecodedDescriptor d = decoder.decode(value, OptionalInt.of(level));
    assertEquals(DescriptorKind.INVALID, d.kind());
    assertFalse(d.valid());
    assertTrue(field(d, "problem").startsWith(reason), field(d, "problem"));
  }

  @Test
  void theEngineBuildsAnSv39x4TableWithPointersAndLeavesInTheseFormats() {
    GstagePageTableFormat format = new GstagePageTableFormat(GstageMode.SV39X4);
    SimpleTableMemory memory = new SimpleTableMemory(0x8000_0000L, 64);
    RadixPageTable table = RadixPageTable.create(format, memory, memory, null);
    assertEquals(0, table.root().physicalAddress() & 0x3fff);
    Flushes flushes = new Flushes();
    PageTableCursor cursor = table.newCursor(flushes);
    long gfn = 0x1_2345_6L;
    long leaf = GstagePte.mapPage(0x777, false, false);
    assertEquals(UpdateStatus.CHANGED, cursor.map(gfn, 0, leaf));
    assertTrue(cursor.walk(gfn));
    assertEquals(leaf, cursor.entry());
    assertEquals(1, flushes.ranges, "gstage_set_pte flushes the leaf it wrote");
    long huge = GstagePte.mapPage(0x40000, true, false);
    assertEquals(UpdateStatus.CHANGED, cursor.map(0x200, 1, huge));
    assertTrue(cursor.walk(0x3ff));
    assertEquals(1, cursor.level());
    assertEquals(UpdateStatus.CHANGED, cursor.splitHuge(0x3ff));
    assertTrue(cursor.walk(0x3ff));
    assertEquals(0, cursor.level());
    assertEquals(GstagePte.mapPage(0x40000 + 0x1ff, true, false), cursor.entry());
    long before = flushes.ranges;
    assertEquals(1 + 512, cursor.zapRange(0, 1L << 29));
    assertEquals(before + 513, flushes.ranges, "GSTAGE_OP_CLEAR flushes each leaf");
    assertFalse(cursor.walk(gfn));
  }

  @Test
  void agingClearsOnlyAAndWriteProtectionOnlyW() {
    GstagePageTableFormat format = new GstagePageTableFormat(GstageMode.SV57X4);
    long leaf = GstagePte.mapPage(0x55, false, false);
    assertTrue(format.isYoung(leaf, 0));
    assertEquals(leaf & ~GstagePte.A, format.makeOld(leaf, 0));
    assertFalse(format.isYoung(format.makeOld(leaf, 0), 0));
    assertEquals(leaf & ~GstagePte.W, format.makeWriteProtected(leaf, 0));
    assertTrue((format.makeWriteProtected(leaf, 0) & GstagePte.D) != 0);
  }
}
