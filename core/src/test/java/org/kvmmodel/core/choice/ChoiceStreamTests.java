package org.kvmmodel.core.choice;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ChoiceStreamTests {

  @Test
  void sameSeedGivesSameChoices() {
    ChoiceStream a = ChoiceStream.seeded(42);
    ChoiceStream b = ChoiceStream.seeded(42);
    for (int i = 0; i < 1000; i++) {
      assertEquals(a.nextInt(1 + i % 17), b.nextInt(1 + i % 17));
    }
    assertArrayEquals(a.recorded(), b.recorded());
  }

  @Test
  void replayReproducesARecordedRun() {
    ChoiceStream original = ChoiceStream.seeded(7);
    int[] drawn = new int[50];
    for (int i = 0; i < drawn.length; i++) {
      drawn[i] = original.nextInt(1000);
    }
    ChoiceStream replay = ChoiceStream.replay(original.recorded());
    for (int value : drawn) {
      assertEquals(value, replay.nextInt(1000));
    }
  }

  @Test
  void exhaustedReplayAnswersTheSimplestChoice() {
    ChoiceStream replay = ChoiceStream.replay(new int[] {5});
    assertEquals(1, replay.nextInt(4), "recorded value reduced modulo the bound");
    assertEquals(0, replay.nextInt(100));
    assertFalse(replay.chance(99));
    assertEquals(3, replay.size());
  }

  @Test
  void rejectsEmptyBounds() {
    ChoiceStream s = ChoiceStream.seeded(1);
    assertThrows(IllegalArgumentException.class, () -> s.nextInt(0));
    assertThrows(IllegalArgumentException.class, () -> s.nextInt(3, 2));
    assertThrows(IllegalArgumentException.class, () -> s.chance(101));
  }
}
