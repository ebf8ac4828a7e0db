package org.kvmmodel.api.pt;

/**
 * A change of leaf attributes applied over a range, as arm64's
 * {@code stage2_update_leaf_attrs} applies set/clear masks and x86's
 * {@code clear_dirty_gfn_range} clears D or W.
 */
@FunctionalInterface
public interface LeafTransform {

  /**
   * The new value for the present leaf {@code entry} at kernel level {@code level} covering
   * frames from {@code gfn}; returning {@code entry} leaves it alone.
   */
  long apply(long entry, int level, long gfn);
}
