package org.kvmmodel.core.kvm;

/**
 * A vCPU as {@code kvm_make_all_cpus_request} sees it: set a request, and if the vCPU is in
 * guest mode make it exit and wait until it has, so that it handles the request before it
 * touches guest memory again.
 */
public interface VcpuRequestTarget {

  /** {@code KVM_REQ_TLB_FLUSH}. */
  int KVM_REQ_TLB_FLUSH = 1;

  /** Sets {@code request} and kicks; returns once the vCPU is outside guest mode. */
  void requestAndKick(int request);
}
