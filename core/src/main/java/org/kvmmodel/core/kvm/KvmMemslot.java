package org.kvmmodel.core.kvm;

import java.util.concurrent.atomic.AtomicLongArray;
import org.kvmmodel.api.kvm.MemorySlot;

/**
 * Core's view of a memslot: the immutable {@link MemorySlot} plus what {@code virt/kvm} keeps
 * beside it, the dirty bitmap ({@code memslot->dirty_bitmap}, null when logging is off). The
 * bitmap is shared with the slot's successor across MOVE and FLAGS_ONLY, as in KVM.
 */
public final class KvmMemslot {

  private final MemorySlot slot;
  private final AtomicLongArray dirtyBitmap;

  KvmMemslot(MemorySlot slot, AtomicLongArray dirtyBitmap) {
    this.slot = slot;
    this.dirtyBitmap = dirtyBitmap;
  }

  public MemorySlot slot() {
    return slot;
  }

  /** The dirty bitmap, or null. */
  AtomicLongArray dirtyBitmap() {
    return dirtyBitmap;
  }

  public boolean hasDirtyBitmap() {
    return dirtyBitmap != null;
  }

  /** Whether the bit for {@code gfn} is set in the dirty bitmap. */
  public boolean isDirtyLogged(long gfn) {
    if (dirtyBitmap == null) {
      return false;
    }
    long rel = gfn - slot.baseGfn();
    return (dirtyBitmap.get((int) (rel >>> 6)) & (1L << (rel & 63))) != 0;
  }

  /** A copy of the dirty bitmap as it is now, one long per 64 pages (empty when logging is off). */
  public long[] dirtyBitmapSnapshot() {
    long[] words = new long[dirtyBitmap == null ? 0 : dirtyBitmap.length()];
    for (int i = 0; i < words.length; i++) {
      words[i] = dirtyBitmap.get(i);
    }
    return words;
  }

  /** {@code kvm_dirty_bitmap_bytes} in longs. */
  public static int bitmapLongs(long npages) {
    return (int) ((npages + 63) >>> 6);
  }

  /** {@code kvm_alloc_dirty_bitmap}, optionally all set (manual protect + initially set). */
  static AtomicLongArray allocDirtyBitmap(long npages, boolean allSet) {
    AtomicLongArray bitmap = new AtomicLongArray(bitmapLongs(npages));
    if (allSet) {
      for (long i = 0; i < npages; i++) {
        bitmap.getAndAccumulate((int) (i >>> 6), 1L << (i & 63), (a, b) -> a | b);
      }
    }
    return bitmap;
  }
}
