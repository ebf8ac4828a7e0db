package org.kvmmodel.arch.x86;

import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.HardwareWalkControl;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The CPU's EPT page walk for one vCPU (Intel SDM Vol. 3C, "EPT Translation Mechanism" and
 * "EPT-Induced VM Exits"). It takes no lock and reads each entry as it is. An entry is present
 * to the hardware when any of its R/W/X bits is set; KVM's software bits (MMU-present, host-
 * and MMU-writable, the saved access-tracking bits) mean nothing to it.
 *
 * <p>The outcomes, as {@link Stage2Walk#faultKind()}:
 * <ul>
 *   <li>a leaf whose R/W/X allow the access translates; with A/D enabled in the EPTP the walk
 *       sets Accessed (bit 8) on any access and Dirty (bit 9) on a write, atomically, and walks
 *       again when the entry changed under it;
 *   <li>{@link #EPT_VIOLATION} with {@code present = false}: an entry with R/W/X all clear on
 *       the way (empty, zapped, frozen, or access-tracked when A/D bits are off);
 *   <li>{@link #EPT_VIOLATION} with {@code present = true}: a leaf that lacks a permission the
 *       access needs; the exit qualification reports the leaf's R/W/X, given as the
 *       permissions;
 *   <li>{@link #EPT_MISCONFIG}: an entry that is writable but not readable, which is what
 *       KVM's MMIO SPTEs are ({@code VMX_EPT_MISCONFIG_WX_VALUE}).
 * </ul>
 * Reserved-bit and memory-type misconfigurations are not modelled: KVM never writes them.
 * Entries above a leaf always carry R/W/X and, with A/D bits, Accessed, as
 * {@code make_nonleaf_spte} builds them, so the walk sets bits only in the leaf.
 */
public final class EptWalker implements Stage2Walker {

  /** EPT violation (exit reason 48): no translation, or a translation lacking a permission. */
  public static final int EPT_VIOLATION = 1;

  /** EPT misconfiguration (exit reason 49): an entry the hardware cannot use. */
  public static final int EPT_MISCONFIG = 2;

  private final PageTableCursor cursor;
  private final boolean adEnabled;

  /**
   * A walker over {@code table}; {@code adEnabled} is the EPTP's A/D enable bit
   * ({@code enable_ept_ad_bits}).
   */
  EptWalker(RadixPageTable table, boolean adEnabled) {
    this.cursor = table.newCursor(HardwareWalkControl.INSTANCE);
    this.adEnabled = adEnabled;
  }

  @Override
  public void walk(Stage2Walk walk) {
    long gfn = walk.gfn(EptPageTableFormat.PAGE_SHIFT);
    int access = walk.access();
    for (; ; ) {
      cursor.walk(gfn);
      long entry = cursor.entry();
      int rwx = (int) (entry & Spte.RWX_MASK);
      if (rwx == 0) {
        walk.faulted(false, 0, EPT_VIOLATION);
        return;
      }
      if ((rwx & (int) (Spte.READABLE | Spte.WRITABLE)) == (int) Spte.WRITABLE) {
        walk.faulted(false, 0, EPT_MISCONFIG);
        return;
      }
      int level = cursor.level();
      if ((access & ~permissions(rwx)) != 0) {
        walk.faulted(true, permissions(rwx), EPT_VIOLATION);
        return;
      }
      if (adEnabled) {
        long bits = Spte.ACCESSED | ((access & GuestAccess.WRITE) != 0 ? Spte.DIRTY : 0);
        if (!cursor.hardwareSetBits(entry, bits)) {
          continue;
        }
      }
      long pageMask = (Spte.pagesPerHugePage(level) << 12) - 1;
      long hpa = (entry & Spte.BASE_ADDR_MASK & ~pageMask) | (walk.gpa() & pageMask);
      walk.translated(hpa, level, permissions(rwx));
      return;
    }
  }

  /** The {@link GuestAccess} bits an entry's EPT R/W/X grant. */
  private static int permissions(int rwx) {
    return ((rwx & (int) Spte.READABLE) != 0 ? GuestAccess.READ : 0)
        | ((rwx & (int) Spte.WRITABLE) != 0 ? GuestAccess.WRITE : 0)
        | ((rwx & (int) Spte.EXECUTABLE) != 0 ? GuestAccess.EXEC : 0);
  }
}
