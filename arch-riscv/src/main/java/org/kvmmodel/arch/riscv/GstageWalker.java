package org.kvmmodel.arch.riscv;

import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.HardwareWalkControl;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * A hart's G-stage walk for guest-physical accesses (Privileged Architecture, "Two-Stage
 * Address Translation" and "Guest Page Faults"). It takes no lock and reads each entry as it
 * is. The outcome is a guest-page fault whose {@code scause} says what was accessed
 * ({@link #EXC_INST_GUEST_PAGE_FAULT}, {@link #EXC_LOAD_GUEST_PAGE_FAULT},
 * {@link #EXC_STORE_GUEST_PAGE_FAULT}) when:
 * <ul>
 *   <li>an entry on the way has V clear, or W without R, or a pointer sits at level 0
 *       ({@code present = false});
 *   <li>the leaf lacks U (every G-stage access counts as a user access), is a misaligned
 *       superpage, or lacks R for a load, W for a store, X for a fetch ({@code present = true});
 *   <li>with Svade: the leaf's A is clear, or D is clear for a store ({@code present = true}).
 * </ul>
 * With Svadu the walk instead sets A, and D for a store, atomically, and walks again if the
 * entry changed under it. KVM sets A and D in every leaf it makes, so only aging (which clears
 * A) makes the two behave differently.
 */
final class GstageWalker implements Stage2Walker {

  /** {@code EXC_INST_GUEST_PAGE_FAULT}. */
  static final int EXC_INST_GUEST_PAGE_FAULT = 20;
  /** {@code EXC_LOAD_GUEST_PAGE_FAULT}. */
  static final int EXC_LOAD_GUEST_PAGE_FAULT = 21;
  /** {@code EXC_STORE_GUEST_PAGE_FAULT}. */
  static final int EXC_STORE_GUEST_PAGE_FAULT = 23;

  private final PageTableCursor cursor;
  private final boolean svadu;

  /** A hart walking {@code table}; {@code svadu} is whether it updates A/D in hardware. */
  GstageWalker(RadixPageTable table, boolean svadu) {
    this.cursor = table.newCursor(HardwareWalkControl.INSTANCE);
    this.svadu = svadu;
  }

  /** The {@code scause} a fault of {@code access} reports; a store wins over a load. */
  static int scause(int access) {
    if ((access & GuestAccess.WRITE) != 0) {
      return EXC_STORE_GUEST_PAGE_FAULT;
    }
    return (access & GuestAccess.EXEC) != 0 ? EXC_INST_GUEST_PAGE_FAULT : EXC_LOAD_GUEST_PAGE_FAULT;
  }

  @Override
  public void walk(Stage2Walk walk) {
    int access = walk.access();
    int cause = scause(access);
    boolean store = (access & GuestAccess.WRITE) != 0;
    for (; ; ) {
      boolean leaf = cursor.walk(walk.gfn(GstageMode.PAGE_SHIFT));
      long pte = cursor.entry();
      if (!leaf || !usable(pte)) {
        walk.faulted(false, 0, cause);
        return;
      }
      int level = cursor.level();
      long pageMask = (1L << (GstageMode.PAGE_SHIFT + GstageMode.INDEX_BITS * level)) - 1;
      int granted = permissions(pte);
      boolean misaligned = (GstagePte.pfn(pte) & (pageMask >>> GstageMode.PAGE_SHIFT)) != 0;
      if ((pte & GstagePte.U) == 0 || misaligned || (access & ~granted) != 0) {
        walk.faulted(true, granted, cause);
        return;
      }
      long needed = GstagePte.A | (store ? GstagePte.D : 0);
      if ((pte & needed) != needed) {
        if (!svadu) {
          walk.faulted(true, granted, cause);
          return;
        }
        if (!cursor.hardwareSetBits(pte, needed)) {
          continue;
        }
      }
      long hpa = ((GstagePte.pfn(pte) << GstageMode.PAGE_SHIFT) & ~pageMask) | (walk.gpa() & pageMask);
      walk.translated(hpa, level, granted);
      return;
    }
  }

  /** V set and not the reserved W-without-R encoding. */
  private static boolean usable(long pte) {
    return (pte & GstagePte.V) != 0 && (pte & (GstagePte.R | GstagePte.W)) != GstagePte.W;
  }

  /** The {@link GuestAccess} bits a leaf's R/W/X grant. */
  private static int permissions(long pte) {
    return ((pte & GstagePte.R) != 0 ? GuestAccess.READ : 0)
        | ((pte & GstagePte.W) != 0 ? GuestAccess.WRITE : 0)
        | ((pte & GstagePte.X) != 0 ? GuestAccess.EXEC : 0);
  }
}
