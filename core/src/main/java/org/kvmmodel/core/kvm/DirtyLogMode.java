package org.kvmmodel.core.kvm;

/**
 * The VM-wide dirty-log settings: {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2} and its
 * {@code KVM_DIRTY_LOG_INITIALLY_SET} bit.
 *
 * @param manualProtect GET_DIRTY_LOG only copies the bitmap; CLEAR_DIRTY_LOG re-protects
 * @param initiallySet new bitmaps start all ones and nothing is write-protected at enable
 */
public record DirtyLogMode(boolean manualProtect, boolean initiallySet) {

  public static final DirtyLogMode DEFAULT = new DirtyLogMode(false, false);

  public DirtyLogMode {
    if (initiallySet && !manualProtect) {
      throw new IllegalArgumentException("KVM_DIRTY_LOG_INITIALLY_SET requires manual protect");
    }
  }
}
