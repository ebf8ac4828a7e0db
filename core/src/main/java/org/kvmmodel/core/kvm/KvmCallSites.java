package org.kvmmodel.core.kvm;

import java.util.Arrays;
import java.util.function.IntSupplier;
import org.kvmmodel.api.kvm.ArchMmu;
import org.kvmmodel.core.trace.EventLog;
import org.kvmmodel.core.trace.KvmCallSite;
import org.kvmmodel.core.trace.TraceListener;
import org.kvmmodel.core.trace.Tracepoint;

/**
 * Which KVM entry point each actor is inside, from the entry and exit events core emits: a
 * stack of {@link KvmCallSite} ordinals (and their arguments) per actor, so that a check names
 * the innermost kernel function in which it saw a violation. Kept in primitive arrays that
 * only grow with a new actor or a deeper nesting, so tracking allocates nothing per event.
 */
public final class KvmCallSites implements TraceListener {

  private final ArchMmu arch;
  private int[] depth = new int[8];
  private int[][] sites = new int[8][4];
  private long[][] args = new long[8][4];

  KvmCallSites(ArchMmu arch) {
    this.arch = arch;
  }

  /**
   * Runs {@code body} as KVM entry point {@code site} with argument {@code arg}, between the
   * {@code KVM_CALL} and {@code KVM_CALL_DONE} events (the latter with what it returned) that
   * let checks tell where a violation happened; returns what {@code body} returns.
   */
  static int call(EventLog log, KvmCallSite site, long arg, IntSupplier body) {
    log.emit(Tracepoint.KVM_CALL, site.ordinal(), arg, 0);
    int r = 0;
    try {
      r = body.getAsInt();
      return r;
    } finally {
      log.emit(Tracepoint.KVM_CALL_DONE, site.ordinal(), r, 0);
    }
  }

  @Override
  public void onEvent(long seq, Tracepoint tp, int actor, long a, long b, long c) {
    switch (tp) {
      case KVM_PAGE_FAULT:
        push(actor, KvmCallSite.GUEST_FAULT.ordinal(), 0);
        break;
      case KVM_CALL:
        push(actor, (int) a, b);
        break;
      case KVM_PAGE_FAULT_DONE:
      case KVM_CALL_DONE:
        pop(actor);
        break;
      default:
        break;
    }
  }

  private synchronized void push(int actor, int site, long arg) {
    if (actor >= depth.length) {
      int n = Math.max(actor + 1, depth.length * 2);
      int old = depth.length;
      depth = Arrays.copyOf(depth, n);
      sites = Arrays.copyOf(sites, n);
      args = Arrays.copyOf(args, n);
      for (int i = old; i < n; i++) {
        sites[i] = new int[4];
        args[i] = new long[4];
      }
    }
    int d = depth[actor];
    if (d == sites[actor].length) {
      sites[actor] = Arrays.copyOf(sites[actor], d * 2);
      args[actor] = Arrays.copyOf(args[actor], d * 2);
    }
    sites[actor][d] = site;
    args[actor][d] = arg;
    depth[actor] = d + 1;
  }

  private synchronized void pop(int actor) {
    if (actor < depth.length && depth[actor] > 0) {
      depth[actor]--;
    }
  }

  /**
   * The kernel function of the innermost entry point {@code actor} is inside, or null when it
   * is in none (a host operation, an mmu_notifier callback, teardown).
   */
  public synchronized String innermost(int actor) {
    if (actor < 0 || actor >= depth.length || depth[actor] == 0) {
      return null;
    }
    int d = depth[actor] - 1;
    KvmCallSite site = KvmCallSite.of(sites[actor][d]);
    switch (site) {
      case GUEST_FAULT:
        return arch.guestFaultFunction();
      case VM_IOCTL:
        return arch.vmIoctlFunction(args[actor][d]);
      default:
        return site.kernelName();
    }
  }
}
