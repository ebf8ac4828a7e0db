package org.kvmmodel.core.vcpu;

import org.kvmmodel.api.kvm.Stage2Walk;

/** The arch's stage-2 fault handler as a vCPU calls it after an exit. */
@FunctionalInterface
public interface GuestFaultHandler {

  /** 0 to re-enter the guest and retry the access, or a negative errno to exit to userspace. */
  int handle(int vcpuId, Stage2Walk fault);
}
