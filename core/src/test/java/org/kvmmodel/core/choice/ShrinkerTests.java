package org.kvmmodel.core.choice;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShrinkerTests {

  /** Fails when some choice is at least 7 and, later, another is exactly 3. */
  private static boolean fails(int[] choices) {
    ChoiceStream s = ChoiceStream.replay(choices);
    boolean big = false;
    for (int i = 0; i < choices.length; i++) {
      int v = s.nextInt(100);
      if (v >= 7) {
        big = true;
      } else if (big && v == 3) {
        return true;
      }
    }
    return false;
  }

  @Test
  void shrinksToTheTwoChoicesThatMatter() {
    int[] failing = null;
    for (long seed = 0; failing == null; seed++) {
      ChoiceStream s = ChoiceStream.seeded(seed);
      for (int i = 0; i < 200; i++) {
        s.nextInt(100);
      }
      if (fails(s.recorded())) {
        failing = s.recorded();
      }
    }
    Shrinker shrinker = new Shrinker(ShrinkerTests::fails, 10_000);
    int[] small = shrinker.shrink(failing);
    assertTrue(fails(small));
    assertArrayEquals(new int[] {7, 3}, small);
    assertTrue(shrinker.attempts() > 1);
  }

  @Test
  void refusesASequenceThatPasses() {
    assertThrows(IllegalArgumentException.class,
        () -> new Shrinker(ShrinkerTests::fails, 10).shrink(new int[] {1, 2}));
  }
}
