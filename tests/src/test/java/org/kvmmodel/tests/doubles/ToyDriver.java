package org.kvmmodel.tests.doubles;

import org.kvmmodel.core.kvm.KvmInstance;

/** Test access to a double's MMU inside a VM: its fault path and its table. */
public final class ToyDriver {

  private final ToyMmu mmu;

  public ToyDriver(KvmInstance kvm) {
    this.mmu = (ToyMmu) kvm.arch();
  }

  /** The double's slow fault path: 0, -EAGAIN, KVM_EXIT_MMIO or -EFAULT. */
  public int fault(long gfn, boolean write) {
    return mmu.fault(gfn, write);
  }

  /** The leaf that maps {@code gfn}, or 0. */
  public long leafOf(long gfn) {
    return mmu.leafOf(gfn);
  }

  public boolean leafWritable(long leaf) {
    return (leaf & ToyFormat.W) != 0;
  }

  public long leafPfn(long leaf) {
    return (leaf & ToyFormat.ADDR) >>> 12;
  }

  public int rootPages() {
    return mmu.root().geometry().rootPages();
  }
}
