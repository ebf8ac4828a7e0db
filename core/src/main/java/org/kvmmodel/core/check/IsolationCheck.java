package org.kvmmodel.core.check;

import java.util.List;
import java.util.Locale;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.kvm.VmList;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.HostPte;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * ISOLATION: a guest access only ever reaches a frame that currently backs one of the VM's own
 * memslots: the frame the VMM's page table maps at the gfn's hva at that moment. A frame that
 * was freed, reclaimed, migrated away or handed to anyone else is a use-after-free or a leak.
 * The host changes a mapping only between invalidate_range_start and _end, by which time KVM
 * has removed every stage-2 and TLB translation of it, so the two always agree. Judged at every
 * guest access, from host memory and the VMM's page table; on a host with several VMs each
 * access is also judged against the others (a cross-VM situation): a frame the access should
 * not reach, which another VM's VMM now maps inside one of that VM's memslots, is a leak from
 * one guest into another, and the message names both VMs. Over a {@code VM_PFNMAP} VMA, which
 * the host maps page by page as it faults while KVM may map a whole aligned block of it
 * ({@code get_vma_page_shift}), the frame backing an hva is the one the VMA maps there from
 * its {@code vm_pgoff}.
 *
 * <p>Violation kinds: {@code freed-frame}, {@code moved-frame}, {@code no-memslot},
 * {@code other-vm}.
 */
public final class IsolationCheck extends Check {

  public static final String ID = "ISOLATION";

  private long crossVmJudged;
  /** Guest accesses judged, by what backs the frame they reached. */
  private final Facet accesses = facet(Facet.of("backing", Backing.labels(Backing.ANON,
      Backing.ANON_THP, Backing.HUGETLB, Backing.FILE, Backing.PFNMAP, Backing.ZONE_DEVICE)));

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
    HostMemory memory = kvm.memory();
    int pageShift = memory.pageShift();
    long pfn = c >>> pageShift;
    Backing reached = Backing.of(memory, pfn);
    if (reached != Backing.OTHER) {
      accesses.hit(reached.ordinal());
    }
    if (memory.pfnValid(pfn) && !memory.isReserved(pfn) && memory.refcount(pfn) == 0) {
      fail(seq, actor, "freed-frame",
          "guest access to gpa %#x reached frame %#x, which is free", gpa, pfn);
      return;
    }
    long gfn = gpa >>> pageShift;
    MemorySlot slot = kvm.memslots().gfnToMemslot(0, gfn);
    long hva = slot == null ? -1 : slot.gfnToHva(gfn);
    long backing = slot == null ? -1 : backingFrame(hva);
    String otherVm = kvm.vmList().size() > 1 ? otherVmBacking(pfn) : null;
    if (backing == pfn) {
      return;
    }
    if (otherVm != null) {
      fail(seq, actor, "other-vm", "%s guest access to gpa %#x reached frame %#x, which now backs %s",
          kvm.name(), gpa, pfn, otherVm);
    } else if (slot == null) {
      fail(seq, actor, "no-memslot",
          "guest access to gpa %#x reached frame %#x, but no memslot backs the gpa",
          gpa, pfn);
    } else {
      fail(seq, actor, "moved-frame",
          "guest access to gpa %#x reached frame %#x, but hva %#x is now backed by %s",
          gpa, pfn, hva, backing < 0 ? "nothing" : String.format(Locale.US, "frame %#x", backing));
    }
  }

  /**
   * The frame the VMM's page table maps at {@code hva}, else the one a VM_PFNMAP VMA maps
   * there, or -1.
   */
  private long backingFrame(long hva) {
    long pte = kvm.vmm().hostPte(hva);
    if (!HostPte.mapsPfn(pte)) {
      return kvm.vmm().pfnmapPfn(hva);
    }
    HostPageSize pageSize = kvm.memory().hostPageSize();
    long size = pageSize.levelSize(HostPte.level(pte));
    return HostPte.pfn(pte) + ((hva & (size - 1)) >>> pageSize.shift());
  }

  /**
   * Where another VM on the host has {@code pfn} inside one of its memslots ("gpa G of vmN
   * (hva H)"), or null: the cross-VM judgement of one access.
   */
  private String otherVmBacking(long pfn) {
    crossVmJudged++;
    VmList vms = kvm.vmList();
    for (int id = 0; id < vms.size(); id++) {
      KvmInstance other = vms.get(id);
      if (other == kvm) {
        continue;
      }
      long address = other.memory().mappedAddress(pfn, other.vmm());
      if (address < 0) {
        continue;
      }
      List<KvmMemslot> slots =
          other.memslots().active(0).overlappingHva(address, address + (1L << other.pageShift()));
      if (!slots.isEmpty()) {
        MemorySlot s = slots.get(0).slot();
        return String.format(Locale.US, "gpa %#x of %s (hva %#x)",
            s.hvaToGfn(address) << s.pageShift(), other.name(), address);
      }
    }
    return null;
  }

  /** Guest accesses judged against the host's other VMs. */
  public synchronized long crossVmJudged() {
    return crossVmJudged;
  }
}
