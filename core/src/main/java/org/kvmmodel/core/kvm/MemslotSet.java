package org.kvmmodel.core.kvm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.kvmmodel.api.kvm.MemorySlot;

/**
 * One address space's {@code struct kvm_memslots}: an immutable set of slots, looked up by gfn
 * (binary search over slots sorted by base gfn, as the gfn tree does), by id, and by hva range.
 * Updates build a new set and publish it; the generation is the only mutable part, because KVM
 * marks the published set "update in progress" until readers have drained.
 */
public final class MemslotSet {

  /** {@code KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS}. */
  public static final long GEN_UPDATE_IN_PROGRESS = 1L << 63;

  private final KvmMemslot[] byGfn;
  private final KvmMemslot[] byHva;
  private volatile long generation;

  MemslotSet(List<KvmMemslot> slots, long generation) {
    this.byGfn = slots.toArray(new KvmMemslot[0]);
    Arrays.sort(byGfn, Comparator.comparingLong(s -> s.slot().baseGfn()));
    this.byHva = slots.toArray(new KvmMemslot[0]);
    Arrays.sort(byHva, Comparator.comparingLong((KvmMemslot s) -> s.slot().userspaceAddr())
        .thenComparingInt(s -> s.slot().id()));
    this.generation = generation;
  }

  static MemslotSet empty(long generation) {
    return new MemslotSet(List.of(), generation);
  }

  /** {@code search_memslots}: the slot containing {@code gfn}, or null. Allocation-free. */
  public KvmMemslot find(long gfn) {
    int lo = 0;
    int hi = byGfn.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      MemorySlot s = byGfn[mid].slot();
      if (gfn < s.baseGfn()) {
        hi = mid - 1;
      } else if (gfn >= s.endGfn()) {
        lo = mid + 1;
      } else {
        return byGfn[mid];
      }
    }
    return null;
  }

  /** {@code id_to_memslot}. */
  public KvmMemslot byId(int id) {
    for (KvmMemslot s : byGfn) {
      if (s.slot().id() == id) {
        return s;
      }
    }
    return null;
  }

  /** Slots whose host range overlaps {@code [start, end)}, in hva order. */
  public List<KvmMemslot> overlappingHva(long start, long end) {
    List<KvmMemslot> out = new ArrayList<>(2);
    for (KvmMemslot s : byHva) {
      if (s.slot().userspaceAddr() < end && s.slot().userspaceEnd() > start) {
        out.add(s);
      }
    }
    return out;
  }

  /** {@code kvm_check_memslot_overlap}: another slot (not {@code id}) overlaps the gfns. */
  public boolean overlaps(int id, long startGfn, long endGfn) {
    for (KvmMemslot s : byGfn) {
      if (s.slot().id() != id && s.slot().baseGfn() < endGfn && s.slot().endGfn() > startGfn) {
        return true;
      }
    }
    return false;
  }

  /** All slots, in gfn order. */
  public List<KvmMemslot> slots() {
    return List.of(byGfn);
  }

  public long generation() {
    return generation;
  }

  void generation(long value) {
    this.generation = value;
  }

  /** A new set with {@code slot} replacing the slot of the same id (or added). */
  MemslotSet with(KvmMemslot slot, long gen) {
    List<KvmMemslot> next = new ArrayList<>(byGfn.length + 1);
    for (KvmMemslot s : byGfn) {
      if (s.slot().id() != slot.slot().id()) {
        next.add(s);
      }
    }
    next.add(slot);
    return new MemslotSet(next, gen);
  }

  /** A new set without slot {@code id}. */
  MemslotSet without(int id, long gen) {
    List<KvmMemslot> next = new ArrayList<>(byGfn.length);
    for (KvmMemslot s : byGfn) {
      if (s.slot().id() != id) {
        next.add(s);
      }
    }
    return new MemslotSet(next, gen);
  }
}
