package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.api.pt.HardwareWalkControl;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.RadixPageTable;

/**
 * The CPU's stage-2 walk for one vCPU (Arm ARM, VMSAv8-64 stage 2 translation and its fault
 * prioritisation). It takes no lock and reads each descriptor as it is. The outcomes are
 * reported as ESR_EL2's fault status code, type and level, in {@link Stage2Walk#faultKind()}:
 * <ul>
 *   <li>{@link #FSC_FAULT} (translation fault) at the level of an invalid descriptor: empty,
 *       unmapped, or locked mid break-before-make; at the start level for an IPA beyond
 *       VTCR_EL2.T0SZ;
 *   <li>{@link #FSC_ACCESS} (access-flag fault) at a leaf with AF clear; with VTCR_EL2.HA the
 *       walker sets AF itself, atomically, and walks again if the descriptor changed under it;
 *   <li>{@link #FSC_PERM} (permission fault) at a leaf whose S2AP and XN refuse the access, with
 *       the leaf's level, from which KVM takes the granule it relaxes
 *       ({@code kvm_vcpu_trap_get_perm_fault_granule}).
 * </ul>
 * A leaf that allows the access translates; the TLB may keep it with its permissions. Blocks
 * and pages translate alike, the output address plus the offset inside the block.
 */
final class Stage2HardwareWalker implements Stage2Walker {

  /** {@code ESR_ELx_FSC_FAULT}: translation fault; the low two bits carry the level. */
  static final int FSC_FAULT = 0x04;

  /** {@code ESR_ELx_FSC_ACCESS}: access-flag fault. */
  static final int FSC_ACCESS = 0x08;

  /** {@code ESR_ELx_FSC_PERM}: permission fault. */
  static final int FSC_PERM = 0x0c;

  /** {@code ESR_ELx_FSC_TYPE}: the fault type without the level. */
  static final int FSC_TYPE = 0x3c;

  /** {@code ESR_ELx_FSC_LEVEL}. */
  static final int FSC_LEVEL = 0x03;

  private final PageTableCursor cursor;
  private final Stage2Config config;

  Stage2HardwareWalker(RadixPageTable table, Stage2Config config) {
    this.cursor = table.newCursor(HardwareWalkControl.INSTANCE);
    this.config = config;
  }

  @Override
  public void walk(Stage2Walk walk) {
    long gpa = walk.gpa();
    long frame = gpa >>> config.granuleShift();
    if (gpa >>> config.ipaBits() != 0) {
      walk.faulted(false, 0, FSC_FAULT | config.startLevel());
      return;
    }
    for (; ; ) {
      if (!cursor.walk(frame)) {
        walk.faulted(false, 0, FSC_FAULT | cursor.level());
        return;
      }
      long entry = cursor.entry();
      int level = cursor.level();
      if ((entry & Stage2Pte.AF) == 0) {
        if (!config.hardwareAccessFlag()) {
          walk.faulted(false, 0, FSC_ACCESS | level);
          return;
        }
        if (!cursor.hardwareSetBits(entry, Stage2Pte.AF)) {
          continue;
        }
        entry |= Stage2Pte.AF;
      }
      int permissions = permissions(entry);
      if ((walk.access() & ~permissions) != 0) {
        walk.faulted(true, permissions, FSC_PERM | level);
        return;
      }
      long offsetMask = (1L << config.levelShift(level)) - 1;
      long hpa = (entry & Stage2Pte.addressMask(config.granuleShift()) & ~offsetMask)
          | (gpa & offsetMask);
      walk.translated(hpa, level, permissions);
      return;
    }
  }

  /** The {@link GuestAccess} bits a leaf's S2AP and XN grant. */
  static int permissions(long leaf) {
    return ((leaf & Stage2Pte.S2AP_R) != 0 ? GuestAccess.READ : 0)
        | ((leaf & Stage2Pte.S2AP_W) != 0 ? GuestAccess.WRITE : 0)
        | ((leaf & Stage2Pte.XN) == 0 ? GuestAccess.EXEC : 0);
  }
}
