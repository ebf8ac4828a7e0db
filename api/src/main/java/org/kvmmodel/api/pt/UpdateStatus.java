package org.kvmmodel.api.pt;

/**
 * How a single-entry engine operation ended, in the terms KVM's fault and split paths use.
 */
public enum UpdateStatus {
  /** The table now holds what was asked ({@code RET_PF_FIXED}, a successful split). */
  CHANGED,
  /** The table already held it; nothing was written ({@code RET_PF_SPURIOUS}). */
  UNCHANGED,
  /**
   * Another thread changed or locked an entry on the way; nothing of this operation's own is
   * left behind except intermediate tables it linked ({@code RET_PF_RETRY}).
   */
  RETRY,
  /** The allocator had no page for a table ({@code -ENOMEM}). */
  NO_MEMORY
}
