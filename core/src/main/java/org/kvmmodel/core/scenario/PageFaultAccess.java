package org.kvmmodel.core.scenario;

import java.util.Locale;
import org.kvmmodel.api.kvm.GuestAccess;

/**
 * The guest accesses of {@code page_fault_test} that need no guest stage 1 of their own: a
 * data read ({@code guest_read64}), a data write ({@code guest_write64}), an atomic
 * compare-and-swap ({@code guest_cas}: one access needing read and write) and an instruction
 * fetch ({@code guest_exec}).
 */
enum PageFaultAccess {
  READ(GuestAccess.READ),
  WRITE(GuestAccess.WRITE),
  CAS(GuestAccess.READ_MODIFY_WRITE),
  EXEC(GuestAccess.EXEC);

  private final int bits;

  PageFaultAccess(int bits) {
    this.bits = bits;
  }

  /** The {@link GuestAccess} bits the vCPU performs. */
  int bits() {
    return bits;
  }

  /** Whether the access stores to memory (and so faults as a write). */
  boolean writes() {
    return (bits & GuestAccess.WRITE) != 0;
  }

  String label() {
    return name().toLowerCase(Locale.US);
  }
}
