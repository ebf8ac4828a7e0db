package org.kvmmodel.arch.arm64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.api.pt.DescriptorKind;
import org.kvmmodel.api.pt.PageTableGeometry;

/** Geometry as VTCR_EL2 derives it, and descriptors encoded and decoded for every granule. */
class Stage2FormatTests {

  /** granule shift, IPA bits, levels, start level, root pages: stage2-formats' table. */
  static Stream<Arguments> vtcr() {
    return Stream.of(
        Arguments.of(12, 40, 3, 1, 2),
        Arguments.of(12, 48, 4, 0, 1),
        Arguments.of(12, 39, 3, 1, 1),
        Arguments.of(12, 36, 3, 1, 1),
        Arguments.of(14, 44, 3, 1, 1),
        Arguments.of(12, 43, 3, 1, 16),
        Arguments.of(12, 32, 2, 2, 4),
        Arguments.of(14, 40, 2, 2, 16),
        Arguments.of(14, 48, 3, 1, 2),
        Arguments.of(14, 36, 2, 2, 1),
        Arguments.of(16, 40, 2, 2, 1),
        Arguments.of(16, 46, 2, 2, 16),
        Arguments.of(16, 48, 3, 1, 1),
        Arguments.of(16, 32, 2, 2, 1));
  }

  @ParameterizedTest
  @MethodSource("vtcr")
  void geometryFollowsVtcr(int granule, int ipa, int levels, int start, int rootPages) {
    Stage2Config config = new Stage2Config(granule, ipa, false, false, false);
    PageTableGeometry g = config.geometry();
    assertEquals(levels, g.levels());
    assertEquals(start, g.kernelLevel(0));
    assertEquals(3, g.kernelLevel(g.levels() - 1));
    assertEquals(rootPages, g.rootPages());
    assertEquals(rootPages, config.rootPages(), "kvm_pgd_pages as the configuration reports it");
    assertTrue(config.describe().contains("(" + rootPages + " root page"), config.describe());
    assertEquals(ipa, g.addressBits());
    assertEquals(1L << granule, g.mappingSize(3));
  }

  @Test
  void blockLevelsPerGranule() {
    PageTableGeometry g4 = new Stage2Config(12, 48, false, false, false).geometry();
    assertFalse(g4.leafAllowed(g4.depthOf(0)));
    assertEquals(1L << 30, g4.mappingSize(1));
    assertTrue(g4.leafAllowed(g4.depthOf(1)));
    assertEquals(2L << 20, g4.mappingSize(2));
    PageTableGeometry g16 = new Stage2Config(14, 48, false, false, false).geometry();
    assertFalse(g16.leafAllowed(g16.depthOf(1)));
    assertEquals(32L << 20, g16.mappingSize(2));
    PageTableGeometry g64 = new Stage2Config(16, 48, false, false, false).geometry();
    assertFalse(g64.leafAllowed(g64.depthOf(1)));
    assertEquals(512L << 20, g64.mappingSize(2));
  }

  @Test
  void leafAttributesWithAndWithoutFwb() {
    int rw = Stage2Prot.R | Stage2Prot.W;
    assertEquals(0x7fcL | Stage2Pte.XN, Stage2Prot.attributes(rw, false));
    assertEquals(0x7d8L | Stage2Pte.XN, Stage2Prot.attributes(rw, true));
    assertEquals(0x744L | Stage2Pte.XN, Stage2Prot.attributes(Stage2Prot.R | Stage2Prot.DEVICE, false));
    assertEquals(0x7d8L, Stage2Prot.attributes(rw | Stage2Prot.X, true));
    assertThrows(IllegalArgumentException.class,
        () -> Stage2Prot.attributes(Stage2Prot.DEVICE | Stage2Prot.X, false));
  }

  static Stream<Arguments> granulesAndLevels() {
    return Stream.of(
        Arguments.of(12, 1), Arguments.of(12, 2), Arguments.of(12, 3),
        Arguments.of(14, 2), Arguments.of(14, 3),
        Arguments.of(16, 2), Arguments.of(16, 3));
  }

  @ParameterizedTest
  @MethodSource("granulesAndLevels")
  void leavesRoundTrip(int granule, int level) {
    for (boolean fwb : new boolean[] {false, true}) {
      Stage2Config config = new Stage2Config(granule, 48, fwb, false, false);
      Stage2PageTableFormat format = new Stage2PageTableFormat(config);
      Stage2DescriptorFormat decoder = new Stage2DescriptorFormat(config);
      long size = 1L << config.levelShift(level);
      long pa = 0x0000_8000_0000_0000L - 3 * size;
      for (int prot : new int[] {Stage2Prot.R, Stage2Prot.R | Stage2Prot.W,
          Stage2Prot.R | Stage2Prot.X, Stage2Prot.R | Stage2Prot.W | Stage2Prot.X}) {
        long leaf = Stage2Pte.makeLeaf(pa, Stage2Prot.attributes(prot, fwb), level, granule);
        assertTrue(format.isPresent(leaf, level));
        assertTrue(format.isLeaf(leaf, level));
        assertEquals(pa, format.outputAddress(leaf, level));
        DecodedDescriptor d = decoder.decode(leaf, OptionalInt.of(level));
        assertEquals(DescriptorKind.LEAF, d.kind(), d.fields().toString());
        assertEquals(pa, d.outputAddress().getAsLong());
        assertEquals(size, d.mappingSize().getAsLong());
        assertEquals((prot & Stage2Prot.W) != 0, d.writable());
        assertEquals((prot & Stage2Prot.X) != 0, d.executable());
        assertTrue(d.readable() && d.accessed());
        assertEquals(level == 3 ? "page" : "block", field(d, "type"));
        assertEquals("inner", field(d, "shareability"));
        assertFalse(format.isYoung(format.makeOld(leaf, level), level));
        assertFalse(decoder.decode(format.makeWriteProtected(leaf, level), OptionalInt.of(level))
            .writable());
      }
    }
  }

  @ParameterizedTest
  @MethodSource("granulesAndLevels")
  void tablesAndSpecialValuesDecode(int granule, int level) {
    Stage2Config config = new Stage2Config(granule, 48, false, false, false);
    Stage2PageTableFormat format = new Stage2PageTableFormat(config);
    Stage2DescriptorFormat decoder = new Stage2DescriptorFormat(config);
    long child = 0x1234L << granule;
    long table = format.makeTable(child, level);
    DecodedDescriptor d = decoder.decode(table, OptionalInt.of(level));
    assertEquals(level == 3 ? DescriptorKind.LEAF : DescriptorKind.TABLE, d.kind());
    assertEquals(level != 3, format.isPresent(table, level) && !format.isLeaf(table, level));
    assertEquals(child, d.outputAddress().getAsLong());
    assertEquals(DescriptorKind.EMPTY, decoder.decode(0, OptionalInt.of(level)).kind());
    DecodedDescriptor locked = decoder.decode(Stage2Pte.INVALID_PTE_LOCKED, OptionalInt.of(level));
    assertEquals(DescriptorKind.FROZEN, locked.kind());
    assertTrue(format.isLocked(Stage2Pte.INVALID_PTE_LOCKED, level));
    assertFalse(format.isPresent(Stage2Pte.INVALID_PTE_LOCKED, level));
    assertEquals(DescriptorKind.INVALID, decoder.decode(0x4, OptionalInt.of(level)).kind());
  }

  @Test
  void dbmAndContiguousDecodeButAreNeverKvmValues() {
    Stage2Config config = new Stage2Config(12, 40, false, false, false);
    Stage2DescriptorFormat decoder = new Stage2DescriptorFormat(config);
    long leaf = Stage2Pte.makeLeaf(0x5000, Stage2Prot.attributes(Stage2Prot.R, false), 3, 12);
    DecodedDescriptor d = decoder.decode(leaf | Stage2Pte.DBM | Stage2Pte.CONTIGUOUS,
        OptionalInt.of(3));
    assertEquals(DescriptorKind.INVALID, d.kind());
    assertEquals("true", field(d, "dbm"));
    assertEquals("true", field(d, "contiguous"));
  }

  @Test
  void blocksBelowTheMinimumBlockLevelAndBadLevelsAreRefused() {
    Stage2Config config = new Stage2Config(12, 48, false, false, false);
    Stage2DescriptorFormat decoder = new Stage2DescriptorFormat(config);
    long block = Stage2Pte.makeLeaf(0, Stage2Prot.attributes(Stage2Prot.R, false), 0, 12);
    DecodedDescriptor d = decoder.decode(block, OptionalInt.of(0));
    assertEquals(DescriptorKind.INVALID, d.kind());
    assertEquals("block descriptor at level 0 (blocks start at level 1 with a 4k granule)",
        field(d, "problem"));
    assertThrows(IllegalArgumentException.class, () -> decoder.decode(0, OptionalInt.empty()));
    assertThrows(IllegalArgumentException.class,
        () -> new Stage2DescriptorFormat(new Stage2Config(12, 40, false, false, false))
            .decode(0, OptionalInt.of(0)));
  }

  @Test
  void splitChildrenKeepTheBlockAttributes() {
    Stage2Config config = new Stage2Config(12, 40, true, false, false);
    Stage2PageTableFormat format = new Stage2PageTableFormat(config);
    long attrs = Stage2Prot.attributes(Stage2Prot.R | Stage2Prot.W, true);
    long block = Stage2Pte.makeLeaf(0x4000_0000L, attrs, 2, 12);
    long child = format.makeSplitChild(block, 2, 5);
    assertEquals(Stage2Pte.makeLeaf(0x4000_5000L, attrs, 3, 12), child);
  }

  private static String field(DecodedDescriptor d, String name) {
    for (DescriptorField f : d.fields()) {
      if (f.name().equals(name)) {
        return f.value();
      }
    }
    throw new AssertionError("no field " + name + " in " + d.fields());
  }
}
