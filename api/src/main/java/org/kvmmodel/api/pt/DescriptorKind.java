package org.kvmmodel.api.pt;

import java.util.Locale;

/** What a single stage-2 descriptor is, as its architecture's KVM code would classify it. */
public enum DescriptorKind {
  /** The empty value (zero, x86's non-present value, LoongArch's invalid-table pointer). */
  EMPTY,
  /** Points at a next-level table. */
  TABLE,
  /** Maps a page, huge page or block. */
  LEAF,
  /** x86: caches an emulated-MMIO gfn and memslot generation ({@code is_mmio_spte}). */
  MMIO,
  /** Locked mid-update by another thread (x86 {@code FROZEN_SPTE}, arm64 locked invalid). */
  FROZEN,
  /** A leaf made non-present for software access tracking ({@code is_access_track_spte}). */
  ACCESS_TRACKED,
  /** None of the above: a value KVM never writes, or one that breaks the format's rules. */
  INVALID;

  /** The lower-case name used in output, e.g. {@code access-tracked}. */
  public String label() {
    return name().toLowerCase(Locale.US).replace('_', '-');
  }
}
