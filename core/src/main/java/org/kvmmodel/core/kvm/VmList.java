package org.kvmmodel.core.kvm;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The host's VMs, as {@code vm_list} (under {@code kvm_lock}) holds every {@code struct kvm}:
 * {@code kvm_create_vm} adds a VM once it is set up. A VM's position is its id ({@code vm0},
 * {@code vm1}, ...), the name messages about several VMs use.
 */
public final class VmList {

  private final List<KvmInstance> vms = new CopyOnWriteArrayList<>();

  /** Adds {@code kvm} and returns its id. */
  synchronized int add(KvmInstance kvm) {
    vms.add(kvm);
    return vms.size() - 1;
  }

  /** How many VMs the host has. */
  public int size() {
    return vms.size();
  }

  /** The VM with id {@code id}. */
  public KvmInstance get(int id) {
    return vms.get(id);
  }
}
