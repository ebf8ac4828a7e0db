package org.kvmmodel.core.scenario;

import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.pt.PageTableCursor;
import org.kvmmodel.api.pt.PageTableFormat;
import org.kvmmodel.api.pt.RadixPageTable;
import org.kvmmodel.core.check.Stage2Leaves;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.KvmMemslot;
import org.kvmmodel.core.vcpu.Vcpu;

/**
 * What one {@link PageFaultCase} left behind, read from core state only: the vCPU's exits to
 * userspace and the last one's reason or errno ({@code kvm_run->exit_reason} or the
 * {@code KVM_RUN} error), the stage-2 leaf of the gfn as page-table memory holds it (judged
 * with the arch format's own predicates, as aging and test-young do), and the gfn's bit in
 * what KVM_GET_DIRTY_LOG returns.
 *
 * @param exits exits to userspace during the access (0 or 1)
 * @param exitReason the {@code KVM_EXIT_*} reason of that exit, 0 if none or an error
 * @param exitError the negative errno of that exit, 0 if none or not an error
 * @param leafPresent a present stage-2 leaf maps the gfn in some root
 * @param leafWritable such a leaf lets a write through
 * @param leafYoung such a leaf is young ({@code is_accessed_spte}, the access flag)
 * @param dirty the gfn's dirty-log bit (false when the slot does not log)
 */
record PageFaultOutcome(
    int exits,
    int exitReason,
    int exitError,
    boolean leafPresent,
    boolean leafWritable,
    boolean leafYoung,
    boolean dirty) {

  /**
   * Reads the outcome of an access to {@code gfn} in {@code slot} by {@code vcpu}, which exited
   * to userspace {@code exits} times: first the stage-2 leaf, then (when the slot logs dirty
   * pages) KVM_GET_DIRTY_LOG, whose harvest write-protects what it reports.
   */
  static PageFaultOutcome observe(
      KvmInstance vm, Vcpu vcpu, long exits, MemorySlot slot, long gfn) {
    boolean present = false;
    boolean writable = false;
    boolean young = false;
    for (RadixPageTable table : vm.pageTablePages().pageTables()) {
      PageTableCursor cursor = table.newCursor(Stage2Leaves.READ_ONLY);
      if (cursor.walk(gfn)) {
        PageTableFormat format = table.format();
        present = true;
        writable |= Stage2Leaves.isWritableLeaf(format, cursor.entry(), cursor.level());
        young |= format.isYoung(cursor.entry(), cursor.level());
      }
    }
    return new PageFaultOutcome(
        (int) exits,
        exits == 0 ? 0 : vcpu.lastExitReason(),
        exits == 0 ? 0 : vcpu.lastExitError(),
        present,
        writable,
        young,
        slot.dirtyLogEnabled() && dirtyLogBit(vm, slot, gfn));
  }

  /** KVM_GET_DIRTY_LOG of {@code slot} and the bit of {@code gfn} in what it returns. */
  private static boolean dirtyLogBit(KvmInstance vm, MemorySlot slot, long gfn) {
    long[] bitmap = new long[KvmMemslot.bitmapLongs(slot.npages())];
    DemandPaging.check(vm.getDirtyLog(slot.id(), bitmap), 0, "KVM_GET_DIRTY_LOG");
    long rel = gfn - slot.baseGfn();
    return (bitmap[(int) (rel >>> 6)] & (1L << (rel & 63))) != 0;
  }
}
