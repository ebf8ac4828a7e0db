package org.kvmmodel.core.choice;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The single source of every random decision in a deterministic run: which action a generated
 * test takes next, its arguments, which actor the scheduler runs, which folio reclaim picks.
 *
 * <p>Every value drawn is recorded. A recorded sequence can be replayed, and a shorter or
 * smaller sequence replayed in its place is how failures are shrunk: when a replay runs out,
 * every further choice is 0 (the simplest option), and a recorded value too large for the
 * bound asked for is reduced modulo the bound. A stream is not thread-safe; it belongs to the
 * one actor that the deterministic scheduler runs at a time.
 */
public final class ChoiceStream {

  private final long seed;
  private SplittableRandom random;
  private final int[] replay;
  private int[] recorded = new int[64];
  private int size;

  private ChoiceStream(long seed, SplittableRandom random, int[] replay) {
    this.seed = seed;
    this.random = random;
    this.replay = replay;
  }

  /** A fresh stream drawing from {@code seed}. */
  public static ChoiceStream seeded(long seed) {
    return new ChoiceStream(seed, new SplittableRandom(seed), null);
  }

  /** A stream that answers with {@code choices} in order, then 0 forever. */
  public static ChoiceStream replay(int[] choices) {
    return new ChoiceStream(0, null, choices.clone());
  }

  /** A uniformly chosen value in {@code [0, bound)}; {@code bound} must be positive. */
  public int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    int value;
    if (replay == null) {
      value = bound == 1 ? 0 : random.nextInt(bound);
    } else {
      value = size < replay.length ? Math.floorMod(replay[size], bound) : 0;
    }
    record(value);
    return value;
  }

  /** A value in {@code [min, max]} inclusive. */
  public int nextInt(int min, int max) {
    if (max < min) {
      throw new IllegalArgumentException("empty range [" + min + ", " + max + "]");
    }
    return min + nextInt(max - min + 1);
  }

  /**
   * True with probability {@code percent}/100. A replay that has run out answers false, so a
   * shrunk run takes the rare branch only where the recorded choices say so.
   */
  public boolean chance(int percent) {
    if (percent < 0 || percent > 100) {
      throw new IllegalArgumentException("percent out of range: " + percent);
    }
    return nextInt(100) >= 100 - percent;
  }

  /** An element of {@code options}, chosen uniformly. */
  public <T> T pick(T[] options) {
    return options[nextInt(options.length)];
  }

  /**
   * Draws every later choice from {@code nextSeed} instead: what was drawn so far (a scenario's
   * actions) stays as its seed made it while the rest (the schedule) varies. A replay is
   * unaffected, since it answers with what was recorded.
   */
  public void continueFrom(long nextSeed) {
    if (replay == null) {
      random = new SplittableRandom(nextSeed);
    }
  }

  /** The seed of a fresh stream; 0 for a replay. */
  public long seed() {
    return seed;
  }

  /** Whether this stream replays recorded choices rather than drawing from a seed. */
  public boolean isReplay() {
    return replay != null;
  }

  /** How many choices have been drawn so far. */
  public int size() {
    return size;
  }

  /** A copy of every choice drawn so far, in order. */
  public int[] recorded() {
    return Arrays.copyOf(recorded, size);
  }

  private void record(int value) {
    if (size == recorded.length) {
      recorded = Arrays.copyOf(recorded, size * 2);
    }
    recorded[size++] = value;
  }
}
