package org.kvmmodel.api.kvm;

import java.util.Locale;

/**
 * An immutable {@code struct kvm_memory_slot}: a run of guest frames backed by a run of host
 * virtual addresses. Updating a slot means publishing a new {@code MemorySlot} (KVM copies
 * slots on every change too), so a reader holding one sees a consistent view.
 */
public final class MemorySlot {

  /** {@code KVM_MEM_LOG_DIRTY_PAGES}. */
  public static final int KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;

  /** {@code KVM_MEM_READONLY}. */
  public static final int KVM_MEM_READONLY = 1 << 1;

  /** {@code KVM_MEM_GUEST_MEMFD}. */
  public static final int KVM_MEM_GUEST_MEMFD = 1 << 2;

  /** {@code KVM_MEMSLOT_INVALID}: the kernel-internal flag of a slot being deleted or moved. */
  public static final int KVM_MEMSLOT_INVALID = 1 << 16;

  private final int asId;
  private final int id;
  private final long baseGfn;
  private final long npages;
  private final long userspaceAddr;
  private final int flags;
  private final int pageShift;

  /**
   * A slot on a host whose {@code PAGE_SHIFT} is {@code pageShift}: a gfn names one host page,
   * so {@code gfn = gpa >> PAGE_SHIFT}.
   */
  public MemorySlot(
      int asId, int id, long baseGfn, long npages, long userspaceAddr, int flags, int pageShift) {
    this.asId = asId;
    this.pageShift = pageShift;
    this.id = id;
    this.baseGfn = baseGfn;
    this.npages = npages;
    this.userspaceAddr = userspaceAddr;
    this.flags = flags;
  }

  /** The same slot with other flags (an INVALID copy, or a flags-only change). */
  public MemorySlot withFlags(int newFlags) {
    return new MemorySlot(asId, id, baseGfn, npages, userspaceAddr, newFlags, pageShift);
  }

  /** The host's {@code PAGE_SHIFT}: log2 of the bytes one gfn covers. */
  public int pageShift() {
    return pageShift;
  }

  /** The host's {@code PAGE_SIZE}. */
  public long pageSize() {
    return 1L << pageShift;
  }

  public int asId() {
    return asId;
  }

  public int id() {
    return id;
  }

  public long baseGfn() {
    return baseGfn;
  }

  public long npages() {
    return npages;
  }

  /** One past the last gfn of the slot. */
  public long endGfn() {
    return baseGfn + npages;
  }

  public long userspaceAddr() {
    return userspaceAddr;
  }

  public int flags() {
    return flags;
  }

  public boolean containsGfn(long gfn) {
    return gfn >= baseGfn && gfn < baseGfn + npages;
  }

  /** {@code memslot_is_readonly}. */
  public boolean isReadonly() {
    return (flags & KVM_MEM_READONLY) != 0;
  }

  /** Whether the slot is the INVALID copy published while it is deleted or moved. */
  public boolean isInvalid() {
    return (flags & KVM_MEMSLOT_INVALID) != 0;
  }

  /** {@code kvm_slot_dirty_track_enabled} for the bitmap: the log-dirty flag is set. */
  public boolean dirtyLogEnabled() {
    return (flags & KVM_MEM_LOG_DIRTY_PAGES) != 0;
  }

  /**
   * The first gfn of the span a dirty-log re-protect covers: {@code base_gfn + gfn_offset +
   * __ffs(mask)}, as arm64's and RISC-V's {@code kvm_arch_mmu_enable_log_dirty_pt_masked}
   * compute it (they protect every gfn from the lowest to the highest set bit).
   */
  public long maskedSpanStart(long gfnOffset, long mask) {
    return baseGfn + gfnOffset + Long.numberOfTrailingZeros(mask);
  }

  /** One past the last gfn of that span: {@code base_gfn + gfn_offset + __fls(mask) + 1}. */
  public long maskedSpanEnd(long gfnOffset, long mask) {
    return baseGfn + gfnOffset + 64 - Long.numberOfLeadingZeros(mask);
  }

  /** {@code __gfn_to_hva_memslot}: the host virtual address backing {@code gfn}. */
  public long gfnToHva(long gfn) {
    return userspaceAddr + ((gfn - baseGfn) << pageShift);
  }

  /** {@code hva_to_gfn_memslot}. */
  public long hvaToGfn(long hva) {
    return baseGfn + ((hva - userspaceAddr) >>> pageShift);
  }

  /** One past the last host virtual address of the slot. */
  public long userspaceEnd() {
    return userspaceAddr + (npages << pageShift);
  }

  @Override
  public String toString() {
    return String.format(
        Locale.US,
        "slot %d/%d gfn 0x%x+0x%x hva 0x%x flags 0x%x",
        asId,
        id,
        baseGfn,
        npages,
        userspaceAddr,
        flags);
  }
}
