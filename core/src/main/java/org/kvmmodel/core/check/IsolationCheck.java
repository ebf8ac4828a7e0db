package org.kvmmodel.core.check;

import java.util.Locale;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * ISOLATION: a guest access only ever reaches a frame that currently backs one of the VM's own
 * memslots: the frame the VMM's page table maps at the gfn's hva at that moment. A frame that
 * was freed, reclaimed, migrated away or handed to anyone else is a use-after-free or a leak.
 * The host changes a mapping only between invalidate_range_start and _end, by which time KVM
 * has removed every stage-2 and TLB translation of it, so the two always agree. Judged at every
 * guest access, from host memory and the VMM's page table.
 */
public final class IsolationCheck extends Check {

  public static final String ID = "ISOLATION";

  public IsolationCheck(KvmInstance kvm) {
    super(ID, kvm);
  }

  @Override
  public synchronized void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    if (tp != Tracepoint.GUEST_ACCESS) {
      return;
    }
    judged();
    long gpa = a;
    long pfn = c >>> HostMemory.PAGE_SHIFT;
    HostMemory memory = kvm.memory();
    if (memory.pfnValid(pfn) && !memory.isReserved(pfn) && memory.refcount(pfn) == 0) {
      fail(seq, actor, "guest access to gpa %#x reached frame %#x, which is free", gpa, pfn);
      return;
    }
    long gfn = gpa >>> MemorySlot.PAGE_SHIFT;
    MemorySlot slot = kvm.gfnToMemslot(0, gfn);
    if (slot == null) {
      fail(seq, actor, "guest access to gpa %#x reached frame %#x, but no memslot backs the gpa",
          gpa, pfn);
      return;
    }
    long hva = slot.gfnToHva(gfn);
    long pte = kvm.vmm().hostPte(hva);
    long backing = -1;
    if (HostPte.mapsPfn(pte)) {
      long size = HostPte.levelSize(HostPte.level(pte));
      backing = HostPte.pfn(pte) + ((hva & (size - 1)) >>> HostMemory.PAGE_SHIFT);
    }
    if (backing != pfn) {
      fail(seq, actor,
          "guest access to gpa %#x reached frame %#x, but hva %#x is now backed by %s",
          gpa, pfn, hva, backing < 0 ? "nothing" : String.format(Locale.US, "frame %#x", backing));
    }
  }
}
