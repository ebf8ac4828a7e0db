package org.kvmmodel.core.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.KvmExit;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.core.mm.VmaKind;

/**
 * One case of {@code page_fault_test} (its {@code TEST_ACCESS}, {@code TEST_DIRTY_LOG},
 * {@code TEST_RO_MEMSLOT} and {@code TEST_RO_MEMSLOT_AND_DIRTY_LOG} rows): a guest access on a
 * fresh memslot backed by one kind of host memory, with or without dirty logging, read-only or
 * not, and what every architecture's KVM must then show.
 *
 * <ul>
 *   <li>A store or atomic to a read-only slot exits to userspace and maps nothing: a store
 *       with {@code KVM_EXIT_MMIO} on every arch (x86 emulates it, arm64 and RISC-V hand the
 *       decoded store to userspace); an atomic with {@code KVM_EXIT_MMIO} where KVM emulates it
 *       (x86's emulator turns it into an MMIO write) or with an error where the arch cannot
 *       emulate it from what the fault reports (arm64 has no valid syndrome for it and fails
 *       {@code KVM_RUN} with -ENOSYS, the selftest's {@code TEST_RO_MEMSLOT_NO_SYNDROME}). The
 *       dirty log stays clear.
 *   <li>Every other access completes without an exit, and the stage-2 leaf that maps the gfn
 *       is then young (accessed).
 *   <li>With dirty logging on, a completed store or atomic is in the log. A read or fetch is
 *       in the log exactly when its fault left a writable leaf: arm64 and RISC-V map read
 *       faults read-only while logging, x86 maps a host-writable page writable on any fault
 *       and logs the gfn as it does ({@code make_spte}), since the write that follows would
 *       not fault.
 * </ul>
 */
record PageFaultCase(
    PageFaultAccess access, VmaKind backing, boolean dirtyLogging, boolean readonlySlot) {

  /** The backings {@code page_fault_test} runs on that the host model has. */
  static final List<VmaKind> BACKINGS =
      List.of(VmaKind.ANON, VmaKind.ANON_THP, VmaKind.HUGETLB_PMD, VmaKind.FILE_SHARED);

  /**
   * Every case: each access on each backing, with logging off and on, on a writable slot and,
   * where the arch accepts {@code KVM_MEM_READONLY}, on a read-only one; without the shared
   * file backing when the VM refuses it ({@link MteMemslots}).
   */
  static List<PageFaultCase> all(boolean readonlyMemory, boolean fileBacking) {
    List<PageFaultCase> cases = new ArrayList<>();
    for (PageFaultAccess access : PageFaultAccess.values()) {
      for (VmaKind backing : BACKINGS) {
        if (backing == VmaKind.FILE_SHARED && !fileBacking) {
          continue;
        }
        for (boolean logging : new boolean[] {false, true}) {
          cases.add(new PageFaultCase(access, backing, logging, false));
          if (readonlyMemory) {
            cases.add(new PageFaultCase(access, backing, logging, true));
          }
        }
      }
    }
    return cases;
  }

  /** The memslot flags of the case's slot. */
  int slotFlags() {
    return (dirtyLogging ? MemorySlot.KVM_MEM_LOG_DIRTY_PAGES : 0)
        | (readonlySlot ? MemorySlot.KVM_MEM_READONLY : 0);
  }

  /** Whether KVM must hand the access to userspace instead of completing it. */
  boolean exitsToUserspace() {
    return readonlySlot && access.writes();
  }

  /** e.g. {@code cas on anon-thp, dirty logging, read-only slot}. */
  String label() {
    return access.label() + " on " + backing.name().toLowerCase(Locale.US).replace('_', '-')
        + (dirtyLogging ? ", dirty logging" : "")
        + (readonlySlot ? ", read-only slot" : "");
  }

  /** The first expectation {@code o} does not meet, or null when it meets them all. */
  String unmet(PageFaultOutcome o) {
    if (exitsToUserspace()) {
      boolean expectedExit =
          o.exits() == 1
              && (o.exitReason() == KvmExit.MMIO || (access == PageFaultAccess.CAS && o.exitError() < 0));
      if (!expectedExit) {
        return "expected " + (access == PageFaultAccess.CAS ? "an exit to userspace" : "KVM_EXIT_MMIO")
            + ", got " + describeExit(o);
      }
      if (o.leafPresent()) {
        return "an access KVM hands to userspace left a stage-2 leaf for the gfn";
      }
      if (dirtyLogging && o.dirty()) {
        return "an access KVM hands to userspace is in the dirty log";
      }
      return null;
    }
    if (o.exits() != 0) {
      return "expected no exit, got " + describeExit(o);
    }
    if (!o.leafPresent()) {
      return "no stage-2 leaf maps the gfn after the access completed";
    }
    if (!o.leafYoung()) {
      return "the stage-2 leaf of the gfn is not young after the access";
    }
    if (!dirtyLogging) {
      return null;
    }
    if (access.writes() && !o.dirty()) {
      return "the " + access.label() + " is missing from the dirty log";
    }
    if (!access.writes() && o.dirty() != o.leafWritable()) {
      return o.dirty()
          ? "the dirty log reports the gfn although its leaf is not writable"
          : "the fault left a writable leaf but the dirty log misses the gfn";
    }
    return null;
  }

  private static String describeExit(PageFaultOutcome o) {
    if (o.exits() == 0) {
      return "no exit";
    }
    return o.exitReason() != 0 ? KvmExit.name(o.exitReason()) : Errno.describe(o.exitError());
  }

  @Override
  public String toString() {
    return String.format(Locale.US, "%s (flags %#x)", label(), slotFlags());
  }
}
