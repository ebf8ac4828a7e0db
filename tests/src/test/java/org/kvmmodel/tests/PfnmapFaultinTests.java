package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.KvmPfn;
import org.kvmmodel.arch.x86.Spte;
import org.kvmmodel.core.kvm.KvmHostMap;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;

/**
 * {@code VM_IO | VM_PFNMAP} memory through {@code hva_to_pfn_remapped} on a real x86 VM: GUP
 * refuses it, so the pfn comes from {@code follow_pfnmap_start} (faulting the driver's
 * mapping in with {@code fixup_user_fault} first), with no reference taken; a write to a
 * read-only mapping is {@code KVM_PFN_ERR_RO_FAULT}, and a caller that wants a pin
 * ({@code kvm_vcpu_map}) is refused unless {@code allow_unsafe_mappings}.
 */
class PfnmapFaultinTests {

  private static final long PAGES = 8;
  private static final long BYTES = PAGES << 12;

  private static KvmInstance vm(int prot) {
    KvmInstance kvm = ArchVms.create("x86", "ept4-ad", "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmapPfn(ArchVms.HVA, BYTES, prot,
        kvm.memory().ioPfnBase()));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
    return kvm;
  }

  @Test
  void aGuestAccessMapsTheDriversPfnWithoutAReference() {
    KvmInstance kvm = vm(Vma.VM_READ | Vma.VM_WRITE);
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    long spte = ArchVms.leaf(kvm, 3);
    assertEquals(kvm.memory().ioPfnBase() + 3, (spte & Spte.BASE_ADDR_MASK) >>> 12);
    assertTrue(ArchVms.writable(kvm, 3), "the driver's mapping is writable");
    assertEquals(KvmPfn.NO_PAGE, kvm.gfnToPage(3, false), "no struct page to reference");
  }

  /**
   * A read-only driver mapping: a first write cannot fault it in ({@code fixup_user_fault}
   * refuses, -EFAULT); a read does and maps it read-only; a write after that finds the entry
   * read-only ({@code KVM_PFN_ERR_RO_FAULT}) and is emulated.
   */
  @Test
  void writesToAReadOnlyDriverMappingFaultOrAreEmulatedAndReadsMapItReadOnly() {
    KvmInstance kvm = vm(Vma.VM_READ);
    assertEquals(Errno.EFAULT.negative(), ArchVms.access(kvm, 0, 2L << 12, GuestAccess.WRITE));
    assertEquals(0, ArchVms.leaf(kvm, 2));
    assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.READ));
    assertEquals(kvm.memory().ioPfnBase() + 2, (ArchVms.leaf(kvm, 2) & Spte.BASE_ADDR_MASK) >>> 12);
    assertFalse(ArchVms.writable(kvm, 2));
    long spte = ArchVms.leaf(kvm, 2);
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.WRITE),
        "KVM_PFN_ERR_RO_FAULT is emulated");
    assertEquals(spte, ArchVms.leaf(kvm, 2), "the read-only SPTE stays");
  }

  @Test
  void kvmVcpuMapCannotPinRemappedMemory() {
    KvmInstance kvm = vm(Vma.VM_READ | Vma.VM_WRITE);
    KvmHostMap map = new KvmHostMap();
    assertEquals(Errno.EINVAL.negative(), kvm.vcpuMap(4, true, map));
    assertFalse(map.mapped());
    assertEquals(KvmPfn.NO_PAGE, map.pinnedPage());
  }
}
