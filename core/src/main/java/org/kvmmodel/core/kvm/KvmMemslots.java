package org.kvmmodel.core.kvm;

import java.util.function.LongConsumer;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.sched.Srcu;

/**
 * {@code kvm->memslots[]}: the active memslot set of each address space, read under
 * {@code kvm->srcu} and replaced by {@link #swapActive} the way
 * {@code kvm_swap_active_memslots} does it.
 */
public final class KvmMemslots {

  private final MemslotSet[] active;
  private final Srcu srcu;
  private final MnActiveInvalidations mnActive;

  public KvmMemslots(int addressSpaces, Srcu srcu, MnActiveInvalidations mnActive) {
    this.active = new MemslotSet[addressSpaces];
    for (int as = 0; as < addressSpaces; as++) {
      active[as] = MemslotSet.empty(as);
    }
    this.srcu = srcu;
    this.mnActive = mnActive;
  }

  public int addressSpaces() {
    return active.length;
  }

  /** {@code __kvm_memslots(kvm, as_id)}. */
  public MemslotSet active(int asId) {
    synchronized (active) {
      return active[asId];
    }
  }

  /** {@code __gfn_to_memslot}: the slot holding {@code gfn} in {@code asId}, or null. */
  public MemorySlot gfnToMemslot(int asId, long gfn) {
    KvmMemslot s = active(asId).find(gfn);
    return s == null ? null : s.slot();
  }

  /** The core slot (with its dirty bitmap) for an api slot currently or formerly active. */
  public KvmMemslot lookup(MemorySlot slot) {
    KvmMemslot s = active(slot.asId()).byId(slot.id());
    return s != null && s.slot().baseGfn() == slot.baseGfn() ? s : null;
  }

  public Srcu srcu() {
    return srcu;
  }

  /**
   * {@code kvm_swap_active_memslots}: mark the new set's generation "update in progress", wait
   * until no mmu_notifier invalidation is active, publish, wait for SRCU readers of the old set,
   * then give the new set its final generation and tell the arch ({@code memslotsUpdated}).
   */
  void swapActive(int asId, MemslotSet next, Runnable releaseSlotsArchLock, LongConsumer memslotsUpdated) {
    long gen = active(asId).generation();
    if ((gen & MemslotSet.GEN_UPDATE_IN_PROGRESS) != 0) {
      throw new IllegalStateException("memslot generation already marked in progress");
    }
    next.generation(gen | MemslotSet.GEN_UPDATE_IN_PROGRESS);
    mnActive.publishWhenIdle(
        () -> {
          synchronized (active) {
            active[asId] = next;
          }
        });
    releaseSlotsArchLock.run();
    srcu.synchronize();
    long finalGen = (next.generation() & ~MemslotSet.GEN_UPDATE_IN_PROGRESS) + active.length;
    memslotsUpdated.accept(finalGen);
    next.generation(finalGen);
  }
}
