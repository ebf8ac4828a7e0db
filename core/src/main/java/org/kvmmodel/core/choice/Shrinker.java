package org.kvmmodel.core.choice;

import java.util.Arrays;
import java.util.function.Predicate;

/**
 * Reduces a failing run's recorded choices to a smaller sequence that still fails, by replaying
 * candidates: cut the tail, delete runs of choices, then lower each value toward 0 (the
 * simplest option a replay can give) by binary search. Because every decision of a run comes from the one
 * choice stream, a smaller sequence is a smaller program, fewer host operations and a simpler
 * schedule at once.
 */
public final class Shrinker {

  private final Predicate<int[]> fails;
  private final int budget;
  private int attempts;

  /**
   * @param fails replays a candidate and says whether it still fails the same way
   * @param budget the most replays to try
   */
  public Shrinker(Predicate<int[]> fails, int budget) {
    this.fails = fails;
    this.budget = budget;
  }

  /** Replays tried so far. */
  public int attempts() {
    return attempts;
  }

  /** The smallest failing sequence found from {@code failing}, which must fail. */
  public int[] shrink(int[] failing) {
    if (!tryCandidate(failing)) {
      throw new IllegalArgumentException("the sequence to shrink does not fail");
    }
    int[] best = failing.clone();
    boolean progress = true;
    while (progress && attempts < budget) {
      progress = false;
      for (int keep = best.length / 2; keep < best.length && attempts < budget; ) {
        int[] candidate = Arrays.copyOf(best, keep);
        if (tryCandidate(candidate)) {
          best = candidate;
          progress = true;
          keep = best.length / 2;
        } else {
          keep = keep + Math.max(1, (best.length - keep) / 2);
        }
      }
      for (int size = Math.max(1, best.length / 4); size >= 1 && attempts < budget; size /= 2) {
        for (int at = 0; at + size <= best.length && attempts < budget; ) {
          int[] candidate = new int[best.length - size];
          System.arraycopy(best, 0, candidate, 0, at);
          System.arraycopy(best, at + size, candidate, at, best.length - at - size);
          if (tryCandidate(candidate)) {
            best = candidate;
            progress = true;
          } else {
            at++;
          }
        }
      }
      for (int i = 0; i < best.length && attempts < budget; i++) {
        int lowest = lowestFailingValue(best, i);
        if (lowest != best[i]) {
          best = best.clone();
          best[i] = lowest;
          progress = true;
        }
      }
    }
    return best;
  }

  /** Binary search for the smallest value at {@code i} that still fails. */
  private int lowestFailingValue(int[] best, int i) {
    int lo = 0;
    int hi = best[i];
    int[] candidate = best.clone();
    while (lo < hi && attempts < budget) {
      int mid = (lo + hi) >>> 1;
      candidate[i] = mid;
      if (tryCandidate(candidate)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return hi;
  }

  private boolean tryCandidate(int[] candidate) {
    attempts++;
    return fails.test(candidate);
  }
}
