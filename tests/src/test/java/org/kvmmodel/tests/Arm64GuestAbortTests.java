package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.arch.arm64.Arm64Plugin;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * arm64 6.13's abort handling ({@code kvm_handle_guest_abort} → {@code user_mem_abort}), judged
 * by what each abort returns and by the stage-2 descriptor it leaves, decoded by the plugin's
 * own descriptor format: the aborts it refuses (an IPA beyond the VM's size, a fault status it
 * does not handle, a read permission fault, an instruction fetch from no memory or from device
 * memory), the errors of each step, device memory mapped Device or Normal-NC
 * ({@code VM_ALLOW_ANY_UNCACHED}), and the block sizes {@code fault_supports_stage2_huge_mapping}
 * and {@code transparent_hugepage_adjust} allow.
 */
class Arm64GuestAbortTests {

  private static final String CONFIG = "4k-ipa40";
  private static final long PAGES = 16;
  private static final long BYTES = PAGES << 12;
  /** ESR_ELx fault status codes: translation, permission, and a synchronous external abort. */
  private static final int FSC_FAULT = 0x04;
  private static final int FSC_PERM = 0x0c;
  private static final int FSC_EXTABT = 0x10;
  /** Bits 47:12 of a 4 KiB-granule descriptor: its output address. */
  private static final long OUTPUT_ADDRESS = 0x0000_ffff_ffff_f000L;

  private static KvmInstance vm(String extra) {
    return ArchVms.withTouchedSlot("arm64", CONFIG, extra, BYTES, 0);
  }

  /** An abort the hardware would report for {@code gpa}, with fault status {@code fsc}. */
  private static int abort(KvmInstance kvm, long gpa, int access, boolean present, int fsc) {
    Stage2Walk walk = new Stage2Walk();
    walk.begin(gpa, access);
    walk.faulted(present, 0, fsc);
    return kvm.arch().handleGuestFault(0, walk);
  }

  private static DecodedDescriptor decoded(KvmInstance kvm, long gfn) {
    ArchConfiguration configuration = new Arm64Plugin().configurations().stream()
        .filter(c -> c.name().equals(CONFIG)).findFirst().orElseThrow();
    return new Arm64Plugin().descriptorFormat(configuration)
        .decode(ArchVms.leaf(kvm, gfn), OptionalInt.of(ArchVms.leafLevel(kvm, gfn)));
  }

  private static String field(DecodedDescriptor d, String name) {
    return d.fields().stream().filter(f -> f.name().equals(name)).map(DescriptorField::value)
        .findFirst().orElseThrow();
  }

  @Test
  void abortsItCannotHandleAreRefusedWithTheKernelsErrnos() {
    KvmInstance kvm = vm("");
    assertEquals(Errno.EFAULT.negative(),
        abort(kvm, 1L << 40, GuestAccess.READ, false, FSC_FAULT | 3),
        "a translation fault beyond the 40-bit IPA space");
    assertEquals(Errno.EFAULT.negative(),
        abort(kvm, 3L << 12, GuestAccess.READ, false, FSC_EXTABT), "an unhandled fault status");
    assertEquals(0, ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ));
    assertEquals(Errno.EFAULT.negative(),
        abort(kvm, 3L << 12, GuestAccess.READ, true, FSC_PERM | 3),
        "a permission fault that is neither a write nor a fetch");
    assertEquals(Errno.ENOEXEC.negative(), ArchVms.access(kvm, 0, 0x200000, GuestAccess.EXEC),
        "an instruction fetch outside every memslot");
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x200000, GuestAccess.READ));
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x200000, GuestAccess.WRITE));
  }

  @Test
  void aStoreToAReadOnlySlotIsMmioAndALoadMapsItReadOnly() {
    KvmInstance kvm = vm("");
    long hva = ArchVms.HVA + BYTES;
    assertEquals(hva, kvm.vmm().mmap(hva, BYTES, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(1, MemorySlot.KVM_MEM_READONLY, 0x100000, BYTES, hva)));
    assertEquals(KvmExit.MMIO, ArchVms.access(kvm, 0, 0x100000, GuestAccess.WRITE));
    assertEquals(0, ArchVms.leaf(kvm, 0x100));
    assertEquals(0, ArchVms.access(kvm, 0, 0x100000, GuestAccess.READ));
    assertNotEquals(0, ArchVms.leaf(kvm, 0x100));
    assertFalse(ArchVms.writable(kvm, 0x100));
  }

  @Test
  void errorsOfFaultinTopupAndTheVmaLookupAreReturnedAndMapNothing() {
    String[][] cases = {
        {"gup-hwpoison", Integer.toString(Errno.EHWPOISON.negative())},
        {"gup-efault", Integer.toString(Errno.EFAULT.negative())},
        {"cache-enomem", Integer.toString(Errno.ENOMEM.negative())}};
    for (String[] c : cases) {
      KvmInstance kvm = ArchVms.create("arm64", CONFIG,
          "kvmmodel.fault-injection." + c[0] + " = 100");
      assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, BYTES, Vma.VM_READ | Vma.VM_WRITE,
          VmaKind.ANON));
      assertEquals(0, kvm.setUserMemoryRegion2(
          new UserspaceMemoryRegion2(0, 0, 0, BYTES, ArchVms.HVA)));
      assertEquals(Integer.parseInt(c[1]), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.WRITE),
          c[0]);
      assertEquals(0, ArchVms.leaf(kvm, 3), c[0]);
    }
    KvmInstance kvm = vm("");
    assertEquals(0, kvm.vmm().munmap(ArchVms.HVA, BYTES));
    assertEquals(Errno.EFAULT.negative(), ArchVms.access(kvm, 0, 3L << 12, GuestAccess.READ),
        "no VMA behind the slot's hva");
  }

  /**
   * Memory without a struct page ({@code VM_PFNMAP}) is device memory: mapped Device, or
   * Normal-NC when the driver set {@code VM_ALLOW_ANY_UNCACHED}, never executable, and an
   * instruction fetch from it is refused with {@code -ENOEXEC}.
   */
  @Test
  void deviceMemoryIsMappedDeviceOrNormalNcAndNeverExecuted() {
    for (boolean anyUncached : new boolean[] {false, true}) {
      KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
      long hva = ArchVms.HVA;
      assertEquals(hva, kvm.vmm().mmapPfn(hva, BYTES, Vma.VM_READ | Vma.VM_WRITE,
          kvm.memory().ioPfnBase(), anyUncached ? Vma.VM_ALLOW_ANY_UNCACHED : 0));
      assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, BYTES, hva)));
      assertEquals(Errno.ENOEXEC.negative(), ArchVms.access(kvm, 0, 2L << 12, GuestAccess.EXEC));
      assertEquals(0, ArchVms.leaf(kvm, 2));
      assertEquals(0, ArchVms.access(kvm, 0, 2L << 12, GuestAccess.WRITE));
      DecodedDescriptor d = decoded(kvm, 2);
      assertTrue(field(d, "memattr").contains(anyUncached ? "normal non-cacheable" : "device-nGnRE"),
          field(d, "memattr"));
      assertFalse(d.executable());
      assertEquals(3, ArchVms.leafLevel(kvm, 2), "a page");
    }
  }

  /**
   * THP memory maps a 2 MiB block where the slot's IPA and hva are equally aligned and the
   * block lies inside the slot; a slot whose hva is off by a page, or a block that would cross
   * the slot's end, maps pages.
   */
  @Test
  void transparentHugepagesMapBlocksOnlyWhereTheSlotAllowsThem() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, 8 * ArchVms.MB,
        Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON_THP));
    assertEquals(0, kvm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, 3 * ArchVms.MB, ArchVms.HVA)));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        1, 0, 16 * ArchVms.MB, 2 * ArchVms.MB, ArchVms.HVA + 4 * ArchVms.MB + 0x1000)));
    assertEquals(0, ArchVms.access(kvm, 0, 0x1000, GuestAccess.READ));
    assertEquals(2, ArchVms.leafLevel(kvm, 1), "a 2 MiB block inside slot 0");
    assertEquals(0, ArchVms.access(kvm, 0, 2 * ArchVms.MB + 0x1000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, 0x201), "the block would cross slot 0's end");
    long gfn = (16 * ArchVms.MB + 0x3000) >>> 12;
    assertEquals(0, ArchVms.access(kvm, 0, gfn << 12, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, gfn), "slot 1's IPA and hva disagree mod 2 MiB");
  }

  /**
   * With dirty logging a read maps a read-only page even from a THP, and the write that
   * follows is a permission fault at the page's level that relaxes it and logs the gfn.
   */
  @Test
  void loggingMapsReadsReadOnlyPagesAndRelaxesThemOnWrite() {
    KvmInstance kvm = ArchVms.create("arm64", CONFIG, "");
    assertEquals(ArchVms.HVA, kvm.vmm().mmap(ArchVms.HVA, 2 * ArchVms.MB,
        Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON_THP));
    assertEquals(0, kvm.vmm().userWrite(ArchVms.HVA));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(
        0, MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, 0, 2 * ArchVms.MB, ArchVms.HVA)));
    assertEquals(0, ArchVms.access(kvm, 0, 0x4000, GuestAccess.READ));
    assertEquals(3, ArchVms.leafLevel(kvm, 4), "logging forces pages");
    assertFalse(ArchVms.writable(kvm, 4));
    long[] bitmap = new long[8];
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(0, bitmap[0], "a read logs nothing");
    long before = ArchVms.leaf(kvm, 4);
    assertEquals(0, ArchVms.access(kvm, 0, 0x4000, GuestAccess.WRITE));
    assertTrue(ArchVms.writable(kvm, 4));
    assertEquals(before & OUTPUT_ADDRESS, ArchVms.leaf(kvm, 4) & OUTPUT_ADDRESS,
        "the same page, relaxed in place");
    assertEquals(0, kvm.getDirtyLog(0, bitmap));
    assertEquals(1L << 4, bitmap[0]);
  }
}
