package org.kvmmodel.api.kvm;

/** The kinds of guest memory access a stage-2 walk checks, as bits. */
public final class GuestAccess {
  public static final int READ = 1;
  public static final int WRITE = 1 << 1;
  public static final int EXEC = 1 << 2;

  /**
   * An atomic read-modify-write (arm64 CAS and LSE atomics, x86 LOCK CMPXCHG, RISC-V AMOs and
   * LR/SC): one access that needs read and write permission and faults as a write. A fault
   * handler can tell it from a plain store by the read bit, as an arch whose fault syndrome
   * does not describe such an instruction must (arm64 reports no valid ISV for it).
   */
  public static final int READ_MODIFY_WRITE = READ | WRITE;

  private GuestAccess() {}

  /** {@code "r"}, {@code "w"}, {@code "x"} or combinations, for messages. */
  public static String describe(int access) {
    return ((access & READ) != 0 ? "r" : "")
        + ((access & WRITE) != 0 ? "w" : "")
        + ((access & EXEC) != 0 ? "x" : "");
  }
}
