package org.kvmmodel.api.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MemorySlotTests {

  @Test
  void theMaskedSpanRunsFromTheLowestToOnePastTheHighestSetBit() {
    MemorySlot slot = new MemorySlot(0, 1, 0x1000, 0x400, 0x7f0000000000L, 0, 12);
    long mask = (1L << 3) | (1L << 5);
    assertEquals(0x1000 + 64 + 3, slot.maskedSpanStart(64, mask));
    assertEquals(0x1000 + 64 + 6, slot.maskedSpanEnd(64, mask));
    assertEquals(0x1000 + 63, slot.maskedSpanStart(0, Long.MIN_VALUE));
    assertEquals(0x1000 + 64, slot.maskedSpanEnd(0, Long.MIN_VALUE));
  }
}
