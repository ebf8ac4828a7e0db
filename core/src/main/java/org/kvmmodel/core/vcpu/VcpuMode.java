package org.kvmmodel.core.vcpu;

/** {@code vcpu->mode}: where a vCPU is, as the kick-and-wait handshake sees it. */
public enum VcpuMode {
  OUTSIDE_GUEST_MODE,
  IN_GUEST_MODE,
  EXITING_GUEST_MODE
}
