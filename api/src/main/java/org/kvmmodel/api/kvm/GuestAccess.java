package org.kvmmodel.api.kvm;

/** The kinds of guest memory access a stage-2 walk checks, as bits. */
public final class GuestAccess {
  public static final int READ = 1;
  public static final int WRITE = 1 << 1;
  public static final int EXEC = 1 << 2;

  private GuestAccess() {}

  /** {@code "r"}, {@code "w"}, {@code "x"} or combinations, for messages. */
  public static String describe(int access) {
    return ((access & READ) != 0 ? "r" : "")
        + ((access & WRITE) != 0 ? "w" : "")
        + ((access & EXEC) != 0 ? "x" : "");
  }
}
