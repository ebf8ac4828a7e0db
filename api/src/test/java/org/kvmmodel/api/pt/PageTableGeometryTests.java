package org.kvmmodel.api.pt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PageTableGeometryTests {

  @Test
  void x86FourLevelIndexesByNineBitsPerLevel() {
    PageTableGeometry g =
        new PageTableGeometry(12, new int[] {9, 9, 9, 9}, 4, -1, new boolean[] {false, true, true, true});
    long gpa = (3L << 39) | (5L << 30) | (7L << 21) | (9L << 12);
    long gfn = gpa >>> 12;
    assertEquals(3, g.index(gfn, g.depthOf(4)));
    assertEquals(5, g.index(gfn, g.depthOf(3)));
    assertEquals(7, g.index(gfn, g.depthOf(2)));
    assertEquals(9, g.index(gfn, g.depthOf(1)));
    assertEquals(48, g.addressBits());
    assertEquals(1, g.rootPages());
    assertEquals(2L << 20, g.mappingSize(2));
    assertEquals(1L << 30, g.mappingSize(3));
    assertEquals(-1, g.depthOf(5));
    assertEquals(1, g.minKernelLevel());
    assertEquals(4, g.maxKernelLevel());
  }

  @Test
  void riscvSv39x4RootIsFourPagesWithElevenIndexBits() {
    PageTableGeometry g =
        new PageTableGeometry(12, new int[] {11, 9, 9}, 2, -1, new boolean[] {true, true, true});
    assertEquals(4, g.rootPages());
    assertEquals(2048, g.entries(0));
    assertEquals(41, g.addressBits());
    long gfn = (0x7FFL << 30 | 0x1FFL << 21) >>> 12;
    assertEquals(0x7FF, g.index(gfn, 0));
    assertEquals(0x1FF, g.index(gfn, 1));
    assertEquals(0, g.kernelLevel(2));
  }

  @Test
  void arm64LevelsRiseTowardTheLeaves() {
    PageTableGeometry g =
        new PageTableGeometry(16, new int[] {14, 13}, 2, 1, new boolean[] {true, true});
    assertEquals(2, g.kernelLevel(0));
    assertEquals(3, g.kernelLevel(1));
    assertEquals(1, g.depthOf(3));
    assertEquals(8192, g.entriesPerPage());
    assertEquals(2, g.rootPages());
    assertEquals(512L << 20, g.mappingSize(2));
    assertEquals(43, g.addressBits());
  }

  @Test
  void rejectsImpossibleShapes() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new PageTableGeometry(12, new int[] {9, 10}, 2, -1, new boolean[] {true, true}));
    assertThrows(
        IllegalArgumentException.class,
        () -> new PageTableGeometry(12, new int[] {14, 9}, 2, -1, new boolean[] {true, true}));
    assertThrows(
        IllegalArgumentException.class,
        () -> new PageTableGeometry(12, new int[] {9, 9}, 2, -1, new boolean[] {true, false}));
    assertThrows(
        IllegalArgumentException.class,
        () -> new PageTableGeometry(12, new int[] {9, 9}, 2, 0, new boolean[] {true, true}));
  }
}
