package org.kvmmodel.arch.arm64;

import org.kvmmodel.api.ViolationSignature;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.Kvm;
import org.kvmmodel.api.kvm.KvmPfn;

/**
 * {@code KVM_ARM_MTE_COPY_TAGS} ({@code kvm_vm_ioctl_mte_copy_tags}, {@code arch/arm64/kvm/guest.c},
 * 6.13): userspace reads or writes the MTE allocation tags of a page-aligned range of guest
 * memory, one byte per 16-byte granule, page by page under slots_lock. Each page is looked up
 * with {@code __gfn_to_page}, ZONE_DEVICE memory is refused after the reference is dropped
 * unused, tags read from the guest release the page clean and tags written to it release the
 * page dirty. The host model keeps neither tag storage nor {@code PG_mte_tagged}: reading an
 * untagged page clears the user buffer instead of copying, which touches the same bytes, so
 * only the user buffer's faults and the page references are modelled.
 */
public final class MteCopyTags {

  /** The kernel function that carries the ioctl out, as checks name where it acts. */
  public static final String FUNCTION = "kvm_vm_ioctl_mte_copy_tags";

  /**
   * What the ioctl does when it writes tags to the guest: it releases the page it took with
   * {@code __gfn_to_page} dirty, having taken no mmu_lock since that lookup (a notifier that
   * the lookup's own fault raised may have taken it before).
   */
  static final ViolationSignature TAGS_WRITTEN_RELEASED_DIRTY =
      ViolationSignature.of(
          "tags written to the guest release their __gfn_to_page page dirty without mmu_lock",
          v -> v.kind().equals("no-mmu-lock")
              && v.sinceLast("kvm_follow_pfn_get_page").saw("kvm_release_page_dirty")
              && !v.sinceLast("kvm_follow_pfn_get_page").saw("mmu_lock"));

  /** {@code _IOR(KVMIO, 0xb4, struct kvm_arm_copy_mte_tags)}: the 48-byte structure below. */
  public static final long KVM_ARM_MTE_COPY_TAGS = 0x8030aeb4L;
  /** {@code KVM_ARM_TAGS_TO_GUEST}: the direction when no flag is set. */
  public static final long KVM_ARM_TAGS_TO_GUEST = 0;
  /** {@code KVM_ARM_TAGS_FROM_GUEST}. */
  public static final long KVM_ARM_TAGS_FROM_GUEST = 1;

  /** Words of {@code struct kvm_arm_copy_mte_tags}. */
  public static final int GUEST_IPA = 0;
  public static final int LENGTH = 1;
  public static final int ADDR = 2;
  public static final int FLAGS = 3;
  public static final int RESERVED0 = 4;
  public static final int RESERVED1 = 5;
  public static final int WORDS = 6;

  /** {@code MTE_GRANULE_SIZE}: one tag per 16 bytes. */
  private static final int MTE_GRANULE_SHIFT = 4;
  private static final long INT_MAX = Integer.MAX_VALUE;

  private final Kvm kvm;
  private final boolean hasMte;

  /** The ioctl on {@code kvm}; {@code hasMte} is {@code kvm_has_mte}. */
  MteCopyTags(Kvm kvm, boolean hasMte) {
    this.kvm = kvm;
    this.hasMte = hasMte;
  }

  /** The argument words of a copy of {@code length} bytes' tags at {@code guestIpa}. */
  public static long[] arg(long guestIpa, long length, long addr, long flags) {
    long[] arg = new long[WORDS];
    arg[GUEST_IPA] = guestIpa;
    arg[LENGTH] = length;
    arg[ADDR] = addr;
    arg[FLAGS] = flags;
    return arg;
  }

  /**
   * {@code kvm_vm_ioctl_mte_copy_tags}: -EINVAL for a VM without MTE, reserved words or unknown
   * flags set, an unaligned address or length, or a length above {@code INT_MAX}; otherwise the
   * bytes of guest memory whose tags were copied if any were, else 0 or the first page's
   * -EFAULT.
   */
  int copy(long[] arg) {
    long pageShift = kvm.pageShift();
    long pageMask = (1L << pageShift) - 1;
    long guestIpa = arg[GUEST_IPA];
    long length = arg[LENGTH];
    long tags = arg[ADDR];
    boolean write = (arg[FLAGS] & KVM_ARM_TAGS_FROM_GUEST) == 0;
    if (!hasMte || arg[RESERVED0] != 0 || arg[RESERVED1] != 0
        || (arg[FLAGS] & ~KVM_ARM_TAGS_FROM_GUEST) != 0
        || (length & pageMask) != 0 || (guestIpa & pageMask) != 0
        || Long.compareUnsigned(length, INT_MAX) > 0) {
      return Errno.EINVAL.negative();
    }
    long granules = 1L << (pageShift - MTE_GRANULE_SHIFT);
    long gfn = guestIpa >>> pageShift;
    long left = length;
    int ret = 0;
    kvm.slotsLock();
    try {
      while (left > 0) {
        long page = kvm.gfnToPage(gfn, write);
        if (page == KvmPfn.NO_PAGE) {
          ret = Errno.EFAULT.negative();
          break;
        }
        if (kvm.pfnToOnlinePage(page) == KvmPfn.NO_PAGE) {
          kvm.releasePageUnused(page);
          ret = Errno.EFAULT.negative();
          break;
        }
        long numTags;
        if (!write) {
          numTags = granules - kvm.copyToUser(tags, granules);
          kvm.releasePageClean(page);
        } else {
          numTags = granules - kvm.copyFromUser(tags, granules);
          kvm.releasePageDirty(page);
        }
        if (numTags != granules) {
          ret = Errno.EFAULT.negative();
          break;
        }
        gfn++;
        tags += numTags;
        left -= 1L << pageShift;
      }
    } finally {
      kvm.slotsUnlock();
    }
    return left != length ? (int) (length - left) : ret;
  }
}
