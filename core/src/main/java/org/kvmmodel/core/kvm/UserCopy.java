package org.kvmmodel.core.kvm;

import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.sched.Scheduler;

/**
 * The uaccess helpers an ioctl uses on a buffer of the VMM process ({@code copy_to_user},
 * {@code clear_user}, {@code copy_from_user}): each page the buffer touches is accessed in
 * order through the process's user-access path, which faults it in; a page under migration is
 * waited for ({@code migration_entry_wait}) and retried, any other fault stops the copy. The
 * model keeps no data, so what is counted is how far the copy got.
 */
public final class UserCopy {

  private final MmStruct vmm;
  private final Scheduler scheduler;
  private final int pageShift;

  public UserCopy(MmStruct vmm, Scheduler scheduler, int pageShift) {
    this.vmm = vmm;
    this.scheduler = scheduler;
    this.pageShift = pageShift;
  }

  /** {@code copy_to_user} / {@code clear_user}: the bytes of {@code [addr, addr + len)} not stored. */
  public long copyToUser(long addr, long len) {
    return copy(addr, len, true);
  }

  /** {@code copy_from_user}: the bytes of {@code [addr, addr + len)} not loaded. */
  public long copyFromUser(long addr, long len) {
    return copy(addr, len, false);
  }

  private long copy(long addr, long len, boolean store) {
    long pageSize = 1L << pageShift;
    long done = 0;
    while (done < len) {
      long at = addr + done;
      if (access(at, store) != 0) {
        return len - done;
      }
      done += Math.min(len - done, pageSize - (at & (pageSize - 1)));
    }
    return 0;
  }

  private int access(long address, boolean store) {
    while (true) {
      int r = store ? vmm.userWrite(address) : vmm.userRead(address);
      if (r != Errno.EAGAIN.negative()) {
        return r;
      }
      scheduler.spinPoint("migration_entry_wait");
    }
  }
}
