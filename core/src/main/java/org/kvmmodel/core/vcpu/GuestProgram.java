package org.kvmmodel.core.vcpu;

import java.util.Arrays;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.core.choice.ChoiceStream;

/**
 * What a guest does: a sequence of memory accesses (guest physical address and kind), drawn
 * from the choice stream so a run replays exactly.
 */
public final class GuestProgram {

  private final long[] gpas;
  private final int[] accesses;

  private GuestProgram(long[] gpas, int[] accesses) {
    this.gpas = gpas;
    this.accesses = accesses;
  }

  /**
   * {@code length} accesses to pages of {@code [baseGfn, baseGfn + pages)} (gfns of a VM whose
   * pages are {@code 1 << pageShift} bytes), each a write with probability
   * {@code writePercent}.
   */
  public static GuestProgram random(ChoiceStream choices, int pageShift, long baseGfn, int pages,
      int length, int writePercent) {
    long[] gpas = new long[length];
    int[] accesses = new int[length];
    for (int i = 0; i < length; i++) {
      gpas[i] = (baseGfn + choices.nextInt(pages)) << pageShift;
      accesses[i] = choices.chance(writePercent) ? GuestAccess.WRITE : GuestAccess.READ;
    }
    return new GuestProgram(gpas, accesses);
  }

  /** The accesses given, in order. */
  public static GuestProgram of(long[] gpas, int[] accesses) {
    if (gpas.length != accesses.length) {
      throw new IllegalArgumentException("one access kind per address");
    }
    return new GuestProgram(gpas.clone(), accesses.clone());
  }

  public int length() {
    return gpas.length;
  }

  public long gpa(int i) {
    return gpas[i];
  }

  public int access(int i) {
    return accesses[i];
  }

  @Override
  public String toString() {
    return "GuestProgram" + Arrays.toString(gpas);
  }
}
