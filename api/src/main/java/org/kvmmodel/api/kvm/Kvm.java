package org.kvmmodel.api.kvm;

import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.api.pt.PageTableEnvironment;

/**
 * What common KVM ({@code virt/kvm/}) gives an architecture's MMU code for one VM: mmu_lock,
 * the mmu_notifier sequence and its retry checks, memslots, faultin and the page release API,
 * dirty logging and remote TLB flushes. A plugin reaches host memory only through these, so it
 * cannot bypass the model's checks.
 */
public interface Kvm {

  /** The kernel version whose behaviour is modelled. */
  KvmVersion version();

  /** {@code kvm->mmu_lock}. */
  MmuLock mmuLock();

  /**
   * A snapshot of {@code kvm->mmu_invalidate_seq} followed by a read barrier ({@code smp_rmb}),
   * taken before faultin.
   */
  long mmuInvalidateSeq();

  /**
   * {@code mmu_invalidate_retry}: whole-VM check, true if an invalidation is in progress or the
   * sequence moved since {@code seq}. Callers hold mmu_lock (Book3S HV excepted).
   */
  boolean mmuInvalidateRetry(long seq);

  /**
   * {@code mmu_invalidate_retry_gfn}: asserts mmu_lock is held; retries only if an in-progress
   * invalidation's merged range covers {@code gfn}, or the sequence moved.
   */
  boolean mmuInvalidateRetryGfn(long seq, long gfn);

  /**
   * {@code mmu_invalidate_retry_gfn_unsafe}: the lockless pre-check; may be wrong either way and
   * must be followed by the locked check.
   */
  boolean mmuInvalidateRetryGfnUnsafe(long seq, long gfn);

  /** {@code gfn_to_memslot} / {@code __gfn_to_memslot}: the active slot, or null. */
  MemorySlot gfnToMemslot(int asId, long gfn);

  /** The generation of the active memslots of {@code asId} ({@code slots->generation}). */
  long memslotsGeneration(int asId);

  /**
   * {@code __kvm_faultin_pfn}: resolve {@code gfn} in {@code slot} through the host's page
   * tables with the GUP {@link Foll} flags. Always asks for a writable mapping, so a read fault
   * may come back writable. Returns a pfn or a {@link KvmPfn} error; {@code out} receives
   * {@code writable} and the refcounted page.
   */
  long faultinPfn(MemorySlot slot, long gfn, int foll, FaultinResult out);

  /** {@code kvm_release_page_clean}: mark accessed, drop the reference. NULL-safe. */
  void releasePageClean(long page);

  /** {@code kvm_release_page_dirty}: mark dirty and accessed, drop the reference. */
  void releasePageDirty(long page);

  /** {@code kvm_release_page_unused}: drop the reference and touch nothing else. */
  void releasePageUnused(long page);

  /**
   * {@code kvm_release_faultin_page}: mmu_lock must be held unless {@code unused}; then
   * unused, dirty or clean release.
   */
  void releaseFaultinPage(long page, boolean unused, boolean dirty);

  /**
   * {@code __gfn_to_page}: {@code kvm_follow_pfn} on the memslot of {@code gfn} in address space
   * 0, with {@code FOLL_WRITE} when {@code write}; the page with a reference the caller must
   * release, or {@link KvmPfn#NO_PAGE} when there is no slot, the lookup fails or the pfn has
   * no refcounted struct page.
   */
  long gfnToPage(long gfn, boolean write);

  /**
   * {@code pfn_to_online_page}: the page of {@code pfn} if it is online memory, or
   * {@link KvmPfn#NO_PAGE} for ZONE_DEVICE memory and pfns without a struct page.
   */
  long pfnToOnlinePage(long pfn);

  /**
   * {@code copy_to_user} (and {@code clear_user}, a store of zeros) of {@code len} bytes at
   * {@code addr} in the VMM process: faults the pages in as the user store does; returns the
   * number of bytes not copied, from the first page that could not be written.
   */
  long copyToUser(long addr, long len);

  /** {@code copy_from_user}: as {@link #copyToUser}, with loads. */
  long copyFromUser(long addr, long len);

  /** {@code mutex_lock(&kvm->slots_lock)}, for an arch ioctl that keeps memslots stable. */
  void slotsLock();

  /** {@code mutex_unlock(&kvm->slots_lock)}. */
  void slotsUnlock();

  /** {@code mark_page_dirty_in_slot}: dirty logging only, never the folio. */
  void markPageDirtyInSlot(MemorySlot slot, long gfn);

  /**
   * {@code kvm_dirty_log_manual_protect_and_init_set}: new dirty bitmaps start all set and
   * enabling logging must not write-protect anything.
   */
  boolean dirtyLogManualProtectAndInitSet();

  /**
   * {@code kvm_are_all_memslots_empty}: no address space holds a memslot. The caller holds
   * slots_lock, as {@link ArchMmu#enableCap} runs.
   */
  boolean areAllMemslotsEmpty();

  /**
   * The environment the arch's stage-2 tables are built in: pages from the MMU memory caches,
   * freeing after an RCU grace period, the model's observer and the cmpxchg race point.
   */
  PageTableEnvironment pageTables();

  /**
   * {@code kvm_mmu_topup_memory_cache} for the calling vCPU's page-table cache: fill it to
   * {@code min} pages before taking mmu_lock (allocating may sleep, which nothing may do under
   * mmu_lock). Returns 0 or -ENOMEM.
   */
  int mmuTopupMemoryCache(int min);

  /** {@code rcu_read_lock} for a lockless walk; returns the index for the unlock. */
  int rcuReadLock();

  /** {@code rcu_read_unlock}. */
  void rcuReadUnlock(int idx);

  /** {@code kvm_flush_remote_tlbs}. */
  void flushRemoteTlbs();

  /** {@code kvm_flush_remote_tlbs_range}. */
  void flushRemoteTlbsRange(long startGfn, long pages);

  /**
   * {@code mmap_read_lock(current->mm)} on the VMM process that owns this VM's memory, as the
   * arm64 and RISC-V fault handlers take it around {@code vma_lookup} and the sequence snapshot.
   */
  void mmapReadLock();

  /** {@code mmap_read_unlock(current->mm)}. */
  void mmapReadUnlock();

  /**
   * {@code vma_lookup(current->mm, hva)}: the VMA containing {@code hva}, or null. The caller
   * holds the mmap lock ({@link #mmapReadLock}).
   */
  HostVma vmaLookup(long hva);

  /**
   * {@code find_vma_intersection(current->mm, start, end)}: the lowest VMA that overlaps
   * {@code [start, end)}, or null, as {@code kvm_arch_prepare_memory_region} walks the VMAs
   * behind a memslot. The caller holds the mmap lock ({@link #mmapReadLock}).
   */
  HostVma findVmaIntersection(long start, long end);

  /**
   * The shift of the host page-table leaf that currently maps {@code hva}, read locklessly as
   * arm64's {@code get_user_mapping_size} and x86's {@code host_pfn_mapping_level} do:
   * {@code PAGE_SHIFT}, {@code PMD_SHIFT} or {@code PUD_SHIFT}; {@code PAGE_SHIFT} when nothing
   * is mapped. The answer may be stale; callers use it only under the retry protocol.
   */
  int hostMappingShift(long hva);

  /** The host's {@code PAGE_SHIFT}: a gfn and a pfn each name one page of this size. */
  int pageShift();
}
