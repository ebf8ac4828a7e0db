package org.kvmmodel.core.scenario;

import java.util.Locale;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;

/**
 * mte-copy-tags: the VMM reads and writes the MTE allocation tags of guest memory with
 * {@code KVM_ARM_MTE_COPY_TAGS} (as QEMU does when it migrates an MTE guest) while two vCPUs
 * fault on the slot and the host zaps and migrates its pages and, once, replaces its upper part
 * with ZONE_DEVICE memory (a device-DAX remap), which the ioctl must refuse after dropping the
 * page it looked up. Some requests are malformed (an unaligned address, an unknown flag) and
 * must fail with -EINVAL; the others must return the bytes of the pages copied before the
 * first page KVM could not use, or -EFAULT when that is the first. Runs only on a VM with MTE.
 */
public final class MteCopyTagsScenario implements Scenario {

  /** {@code _IOR(KVMIO, 0xb4, struct kvm_arm_copy_mte_tags)}. */
  static final long KVM_ARM_MTE_COPY_TAGS = 0x8030aeb4L;
  /** {@code KVM_ARM_TAGS_FROM_GUEST}; no flag copies tags to the guest. */
  static final long KVM_ARM_TAGS_FROM_GUEST = 1;
  /** Words of {@code struct kvm_arm_copy_mte_tags}: guest_ipa, length, addr, flags, reserved[2]. */
  private static final int ARG_WORDS = 6;
  /** {@code MTE_GRANULE_SIZE}: one tag byte per 16 bytes of memory. */
  private static final int MTE_GRANULE_SHIFT = 4;

  static final long HVA = 0x7f6000000000L;
  static final long TAG_BUFFER = HVA + (1L << 30);
  static final int PAGES = 24;
  /** The first page the host turns into ZONE_DEVICE memory; vCPUs stay below it. */
  static final int DEVICE_PAGE = 16;
  static final int MAX_COPY_PAGES = 4;
  static final int COPIES = 8;
  static final int ACCESSES_PER_VCPU = 12;
  static final int HOST_OPERATIONS = 6;

  @Override
  public String name() {
    return "mte-copy-tags";
  }

  @Override
  public String description() {
    return "the VMM copies MTE tags to and from guest memory while guests fault and the host"
        + " zaps, migrates and remaps part of it as ZONE_DEVICE memory";
  }

  @Override
  public String unsupportedReason(ArchConfiguration configuration) {
    return MteMemslots.refusesFileBacking(configuration)
        ? null
        : "KVM_ARM_MTE_COPY_TAGS needs a VM with MTE (KVM_CAP_ARM_MTE), which this"
            + " configuration is not";
  }

  @Override
  public void setUp(ScenarioRun run) {
    KvmInstance vm = run.vm();
    int pageShift = vm.pageShift();
    long pageSize = 1L << pageShift;
    MmStruct vmm = vm.vmm();
    int rw = Vma.VM_READ | Vma.VM_WRITE;
    DemandPaging.check(vmm.mmap(HVA, PAGES * pageSize, rw, VmaKind.ANON), HVA, "mmap");
    DemandPaging.check(vm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(0, 0, 0, PAGES * pageSize, HVA)), 0,
        "KVM_SET_USER_MEMORY_REGION2");
    long tagBytes = (long) MAX_COPY_PAGES << (pageShift - MTE_GRANULE_SHIFT);
    DemandPaging.check(vmm.mmap(TAG_BUFFER, Math.max(pageSize, tagBytes), rw, VmaKind.ANON),
        TAG_BUFFER, "mmap of the tag buffer");
    run.spawnRandomVcpus(2, DEVICE_PAGE, ACCESSES_PER_VCPU, 50);
    long[][] requests = new long[COPIES][];
    for (int i = 0; i < COPIES; i++) {
      requests[i] = drawRequest(run, pageSize);
    }
    run.spawn("vmm", () -> {
      for (long[] arg : requests) {
        int r = vm.vmIoctl(KVM_ARM_MTE_COPY_TAGS, arg);
        verify(arg, r, pageSize);
        run.scheduler().point("vmm");
      }
    });
    int remapAt = run.choices().nextInt(HOST_OPERATIONS);
    int[] pages = new int[HOST_OPERATIONS];
    boolean[] migrate = new boolean[HOST_OPERATIONS];
    for (int i = 0; i < HOST_OPERATIONS; i++) {
      pages[i] = run.choices().nextInt(DEVICE_PAGE);
      migrate[i] = run.choices().chance(50);
    }
    HostMemory memory = vm.memory();
    run.spawn("host", () -> {
      for (int i = 0; i < HOST_OPERATIONS; i++) {
        if (i == remapAt) {
          remapAsDevice(vmm, pageSize, rw);
        }
        long hva = HVA + pages[i] * pageSize;
        if (migrate[i]) {
          PfnCache.migrate(run, memory, vmm.hostPte(hva));
        } else {
          DemandPaging.check(vmm.madviseDontneed(hva, pageSize), 0, "madvise(MADV_DONTNEED)");
        }
        run.scheduler().point("host");
      }
    });
  }

  /**
   * One copy: 1 to {@link #MAX_COPY_PAGES} pages anywhere in the slot (so some run past its
   * end), either direction; one in eight malformed (an unaligned address or an unknown flag).
   */
  private static long[] drawRequest(ScenarioRun run, long pageSize) {
    long[] arg = new long[ARG_WORDS];
    arg[0] = run.choices().nextInt(PAGES) * pageSize;
    arg[1] = run.choices().nextInt(1, MAX_COPY_PAGES) * pageSize;
    arg[2] = TAG_BUFFER;
    arg[3] = run.choices().chance(50) ? KVM_ARM_TAGS_FROM_GUEST : 0;
    if (run.choices().chance(12)) {
      if (run.choices().chance(50)) {
        arg[0] += 16;
      } else {
        arg[3] |= 2;
      }
    }
    return arg;
  }

  /**
   * What {@code kvm_vm_ioctl_mte_copy_tags} may answer {@code arg}: -EINVAL for a malformed
   * request; otherwise the bytes of a whole number of pages, at least one and at most the
   * request, or -EFAULT; a request starting past the slot has no page to copy and fails.
   */
  private static void verify(long[] arg, int r, long pageSize) {
    boolean malformed = (arg[0] & (pageSize - 1)) != 0 || (arg[3] & ~KVM_ARM_TAGS_FROM_GUEST) != 0;
    if (malformed) {
      expect(r == Errno.EINVAL.negative(), arg, r, "-EINVAL for a malformed request");
      return;
    }
    boolean copied = r > 0 && r % pageSize == 0 && r <= arg[1];
    expect(copied || r == Errno.EFAULT.negative(), arg, r,
        "the bytes of the pages copied, or -EFAULT");
    expect(r < 0 || r <= PAGES * pageSize - arg[0], arg, r, "no copy beyond the slot");
  }

  private static void expect(boolean ok, long[] arg, int r, String what) {
    if (!ok) {
      throw new UnmetExpectation(String.format(Locale.US,
          "KVM_ARM_MTE_COPY_TAGS(guest_ipa 0x%x, length 0x%x, flags %d) returned %d: expected %s",
          arg[0], arg[1], arg[3], r, what));
    }
  }

  /**
   * The VMM replaces the slot's upper pages with device memory: {@code munmap}, then a
   * ZONE_DEVICE mapping at the same address, as a device-DAX {@code mmap(MAP_FIXED)} does.
   */
  private static void remapAsDevice(MmStruct vmm, long pageSize, int rw) {
    long hva = HVA + DEVICE_PAGE * pageSize;
    long bytes = (PAGES - DEVICE_PAGE) * pageSize;
    DemandPaging.check(vmm.munmap(hva, bytes), 0, "munmap");
    DemandPaging.check(vmm.mmap(hva, bytes, rw, VmaKind.ZONE_DEVICE), hva, "mmap of ZONE_DEVICE");
  }
}
