package org.kvmmodel.core.check;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GfnRangesTests {

  @Test
  void containsEveryGfnOfEachRangeAndNothingAfterClear() {
    GfnRanges ranges = new GfnRanges();
    assertTrue(ranges.isEmpty());
    for (int i = 0; i < 20; i++) {
      ranges.add(i * 1024L, 512);
    }
    assertFalse(ranges.isEmpty());
    assertTrue(ranges.contains(0));
    assertTrue(ranges.contains(19 * 1024L + 511));
    assertFalse(ranges.contains(19 * 1024L + 512));
    assertFalse(ranges.contains(512));
    ranges.clear();
    assertTrue(ranges.isEmpty());
    assertFalse(ranges.contains(0));
  }
}
