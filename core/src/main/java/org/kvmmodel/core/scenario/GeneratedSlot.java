package org.kvmmodel.core.scenario;

import java.util.Locale;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.HostFile;
import org.kvmmodel.core.mm.MmStruct;

/**
 * One memslot of a {@link GeneratedScenario}: its backing, its size (a bitmap word, a few
 * pages, a partial last word, a host PMD or a PMD and a few pages), where its hva and gpa sit
 * relative to huge-page alignment (aligned, or a drawn number of pages off, so its edges fall
 * inside huge pages) and its flags (read-only, dirty logging). Each slot owns a region of
 * {@value #REGION_PMDS} host PMDs of hva and of twice that of guest-physical space, so a
 * {@link #move} within it never overlaps another slot.
 *
 * <p>The VMM actor is the only one that changes a slot after set-up, so its flags and gpa here
 * are what KVM has.
 */
final class GeneratedSlot {

  static final long HVA = 0x7e0000000000L;
  static final int REGION_PMDS = 4;

  final int id;
  final GeneratedBacking backing;
  final long pages;
  final long hva;
  /** The file a {@link GeneratedBacking#FILE_SHARED} slot maps, else null. */
  final HostFile file;
  private final int pageShift;
  private final long pmdPages;
  private final long homeGfn;
  private long gfn;
  private int flags;
  private boolean present = true;

  private GeneratedSlot(int id, GeneratedBacking backing, long pages, long hva, HostFile file,
      long gfn, int flags, int pageShift, long pmdPages) {
    this.id = id;
    this.file = file;
    this.pageShift = pageShift;
    this.pmdPages = pmdPages;
    this.backing = backing;
    this.pages = pages;
    this.hva = hva;
    this.homeGfn = gfn;
    this.gfn = gfn;
    this.flags = flags;
  }

  /**
   * Draws slot {@code id} of {@code vm} ({@code deviceTaken}: the host's one PMD of ZONE_DEVICE
   * frames is already another slot's; {@code hostIndex}: the slot's place among all the host's
   * generated slots, which picks IO frames no other slot maps), maps its memory and touches what
   * the backing wants touched; returns null where KVM refuses the slot for its backing (the
   * memory is unmapped again).
   */
  static GeneratedSlot create(
      KvmInstance vm, ChoiceStream choices, int id, int hostIndex, boolean deviceTaken) {
    GeneratedBacking[] all = GeneratedBacking.values();
    GeneratedBacking backing = all[choices.nextInt(all.length)];
    if (backing == GeneratedBacking.ZONE_DEVICE && deviceTaken) {
      backing = GeneratedBacking.ANON;
    }
    int pageShift = vm.pageShift();
    long pmdPages = vm.memory().hostPageSize().pmdSize() >>> pageShift;
    long pages = drawPages(choices, pmdPages);
    if (backing.wholeHugePages()) {
      pages = pmdPages;
    } else if (backing.pfnmap() || backing == GeneratedBacking.ZONE_DEVICE) {
      pages = Math.min(pages, pmdPages);
    }
    long hvaOff = backing.wholeHugePages() || !choices.chance(25)
        ? 0 : 1 + choices.nextInt((int) pmdPages - 1);
    long gfnOff = !choices.chance(25) ? 0 : 1 + choices.nextInt((int) pmdPages - 1);
    long hva = HVA + ((long) id * REGION_PMDS * pmdPages + hvaOff << pageShift);
    long gfn = 2L * id * REGION_PMDS * pmdPages + gfnOff;
    int flags = 0;
    if (choices.chance(30)) {
      flags = MemorySlot.KVM_MEM_LOG_DIRTY_PAGES;
    } else if (choices.chance(15)) {
      flags = MemorySlot.KVM_MEM_READONLY;
    }
    long io = alignUp(vm.memory().ioPfnBase(), pmdPages) + (long) hostIndex * pmdPages
        + (choices.chance(50) ? 0 : 1) + hvaOff;
    MmStruct vmm = vm.vmm();
    long bytes = pages << pageShift;
    HostFile file = backing == GeneratedBacking.FILE_SHARED ? vm.memory().createFile(pages) : null;
    DemandPaging.check(backing.map(vmm, hva, bytes, io, file), hva, "mmap(" + backing + ")");
    GeneratedSlot slot =
        new GeneratedSlot(id, backing, pages, hva, file, gfn, flags, pageShift, pmdPages);
    slot.touch(vmm, choices);
    return slot.install(vm) ? slot : null;
  }

  private static long drawPages(ChoiceStream choices, long pmdPages) {
    switch (choices.nextInt(5)) {
      case 0:
        return 64;
      case 1:
        return 1 + choices.nextInt(63);
      case 2:
        return 64 + DirtyLogHarvest.PARTIAL_WORD;
      case 3:
        return pmdPages;
      default:
        return pmdPages + 1 + choices.nextInt(63);
    }
  }

  private static long alignUp(long value, long alignment) {
    return (value + alignment - 1) & -alignment;
  }

  /**
   * What the VMM does to the memory before the guest runs: writes the first pages of
   * anonymous, copy-on-write and file memory, reads those of zero-page memory, writes the first
   * page of THP memory (a huge page where the hva allows).
   */
  private void touch(MmStruct vmm, ChoiceStream choices) {
    long pageSize = vmm.memory().hostPageSize().bytes();
    int touched = choices.nextInt((int) Math.min(pages, 16) + 1);
    for (int p = 0; p < touched; p++) {
      long a = hva + p * pageSize;
      switch (backing) {
        case ANON:
        case COW_AFTER_FORK:
        case FILE_SHARED:
          DemandPaging.check(vmm.userWrite(a), 0, "VMM store");
          break;
        case ZERO_PAGE:
          DemandPaging.check(vmm.userRead(a), 0, "VMM load");
          break;
        case THP:
          if (p == 0) {
            DemandPaging.check(vmm.userWrite(a), 0, "VMM store");
          }
          break;
        default:
          break;
      }
    }
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2 for the drawn flags. A logging slot over IO memory that the
   * arch refuses with -EINVAL (arm64, RISC-V) is created without logging; a writable slot over
   * memory the host maps read-only that the arch refuses with -EPERM (RISC-V) becomes
   * read-only; a backing an MTE VM refuses with -EINVAL is unmapped and left out; any other
   * failure fails the run.
   */
  private boolean install(KvmInstance vm) {
    int rc = vm.setUserMemoryRegion2(region());
    if (rc == Errno.EINVAL.negative() && backing.pfnmap() && logging()) {
      flags = 0;
      rc = vm.setUserMemoryRegion2(region());
    }
    if (rc == Errno.EPERM.negative() && backing == GeneratedBacking.PFNMAP_READ_ONLY) {
      flags = MemorySlot.KVM_MEM_READONLY;
      rc = vm.setUserMemoryRegion2(region());
    }
    if (rc == Errno.EINVAL.negative() && backing.mayBeRefused()) {
      DemandPaging.check(vm.vmm().munmap(hva, pages << vm.pageShift()), 0, "munmap");
      return false;
    }
    DemandPaging.check(rc, 0, "KVM_SET_USER_MEMORY_REGION2 " + region());
    return true;
  }

  /** The ioctl argument for the slot as it is now. */
  private UserspaceMemoryRegion2 region() {
    return new UserspaceMemoryRegion2(id, flags, gfn << pageShift, pages << pageShift, hva);
  }

  boolean logging() {
    return present && (flags & MemorySlot.KVM_MEM_LOG_DIRTY_PAGES) != 0;
  }

  boolean readOnly() {
    return (flags & MemorySlot.KVM_MEM_READONLY) != 0;
  }

  /** Flags-only update: dirty logging on or off (a read-only or deleted slot is left alone). */
  void toggleLogging(KvmInstance vm) {
    if (present && !readOnly()) {
      update(vm, flags ^ MemorySlot.KVM_MEM_LOG_DIRTY_PAGES, gfn, "flags");
    }
  }

  /**
   * KVM_MR_MOVE between the slot's home gpa and {@value #REGION_PMDS} host PMDs above it, the
   * upper half of its own guest-physical region.
   */
  void move(KvmInstance vm) {
    if (present) {
      update(vm, flags, gfn == homeGfn ? homeGfn + REGION_PMDS * pmdPages : homeGfn, "move");
    }
  }

  /** KVM_MR_DELETE, then KVM_MR_CREATE of the same slot again after a race point. */
  void deleteAndRecreate(ScenarioRun run, KvmInstance vm) {
    if (!present) {
      return;
    }
    DemandPaging.check(vm.setUserMemoryRegion2(
        new UserspaceMemoryRegion2(id, flags, gfn << pageShift, 0, hva)), 0,
        "KVM_SET_USER_MEMORY_REGION2 (delete) " + this);
    present = false;
    run.scheduler().point("vmm");
    update(vm, flags, gfn, "recreate");
  }

  /**
   * KVM_SET_USER_MEMORY_REGION2 with new flags or gpa. 0 applies it. KVM refuses, leaving the
   * slot as it was, a writable slot over a range the host has made read-only meanwhile where
   * the arch checks the VMA (RISC-V, -EPERM) and logging over {@code VM_PFNMAP} memory (arm64
   * and RISC-V, -EINVAL); any other return fails the run.
   */
  private void update(KvmInstance vm, int newFlags, long newGfn, String what) {
    UserspaceMemoryRegion2 region = new UserspaceMemoryRegion2(
        id, newFlags, newGfn << pageShift, pages << pageShift, hva);
    int rc = vm.setUserMemoryRegion2(region);
    boolean logsIo = backing.pfnmap() && (newFlags & MemorySlot.KVM_MEM_LOG_DIRTY_PAGES) != 0;
    if (rc == Errno.EPERM.negative() && (newFlags & MemorySlot.KVM_MEM_READONLY) == 0
        || rc == Errno.EINVAL.negative() && logsIo) {
      return;
    }
    DemandPaging.check(rc, 0, "KVM_SET_USER_MEMORY_REGION2 (" + what + ") " + region);
    flags = newFlags;
    gfn = newGfn;
    present = true;
  }

  /** Guest frame {@code page} of the slot where it is now. */
  long gpa(long page) {
    return gfn + page << pageShift;
  }

  /** Guest frame {@code page} of the slot at its home gpa, where guest programs were drawn. */
  long homeGpa(long page) {
    return homeGfn + page << pageShift;
  }

  @Override
  public String toString() {
    return String.format(Locale.US, "slot %d: %s, %d pages at gfn %#x, hva %#x%s%s", id, backing,
        pages, gfn, hva, logging() ? ", logging" : "", readOnly() ? ", read-only" : "");
  }
}
