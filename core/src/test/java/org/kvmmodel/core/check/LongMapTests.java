package org.kvmmodel.core.check;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class LongMapTests {

  @Test
  void agreesWithATreeMapThroughGrowthAndCollisions() {
    LongMap<Long> map = new LongMap<>();
    TreeMap<Long, Long> reference = new TreeMap<>();
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 5000; i++) {
      long key = random.nextInt(3) == 0 ? random.nextLong() : random.nextLong(2048) << 12;
      Long value = random.nextLong();
      map.put(key, value);
      reference.put(key, value);
    }
    for (long key : reference.keySet()) {
      assertEquals(reference.get(key), map.get(key));
    }
    long[] expected = reference.keySet().stream().mapToLong(Long::longValue).toArray();
    assertArrayEquals(expected, map.sortedKeys());
  }

  @Test
  void absentKeysReadNullAndPutReplaces() {
    LongMap<String> map = new LongMap<>();
    assertNull(map.get(0));
    String first = "first";
    map.put(-1, first);
    assertSame(first, map.get(-1));
    map.put(-1, "second");
    assertEquals("second", map.get(-1));
    assertNull(map.get(1));
    assertArrayEquals(new long[] {-1}, map.sortedKeys());
  }

  @Test
  void nullValuesAreRefused() {
    LongMap<String> map = new LongMap<>();
    assertThrows(IllegalArgumentException.class, () -> map.put(5, null));
  }
}
