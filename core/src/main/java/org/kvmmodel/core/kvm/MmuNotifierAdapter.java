package org.kvmmodel.core.kvm;

import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.mm.MmuNotifier;
import org.kvmmodel.core.mm.MmuNotifierRange;

/**
 * KVM's {@code struct mmu_notifier} as registered with the VMM's mm
 * ({@code kvm_init_mmu_notifier}): forwards each callback to {@link KvmMmuNotifier}.
 */
final class MmuNotifierAdapter implements MmuNotifier {

  private final KvmMmuNotifier kvm;

  MmuNotifierAdapter(KvmMmuNotifier kvm) {
    this.kvm = kvm;
  }

  @Override
  public int invalidateRangeStart(MmuNotifierRange range) {
    return kvm.invalidateRangeStart(range.start(), range.end(), range.blockable());
  }

  @Override
  public void invalidateRangeEnd(MmuNotifierRange range) {
    kvm.invalidateRangeEnd(range.start(), range.end(), range.blockable());
  }

  @Override
  public boolean clearFlushYoung(MmStruct mm, long start, long end) {
    return kvm.clearFlushYoung(start, end);
  }

  @Override
  public boolean clearYoung(MmStruct mm, long start, long end) {
    return kvm.clearYoung(start, end);
  }

  @Override
  public boolean testYoung(MmStruct mm, long address) {
    return kvm.testYoung(address);
  }

  @Override
  public void release(MmStruct mm) {
    kvm.release();
  }
}
