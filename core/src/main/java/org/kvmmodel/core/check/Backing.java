package org.kvmmodel.core.check;

import org.kvmmodel.core.mm.HostMemory;

/**
 * What backs a frame, as a situation axis: read from the frame's folio (its flags and order),
 * never from the VMA a plugin was told about.
 */
enum Backing {
  /** An order-0 anonymous folio. */
  ANON("anon"),
  /** An anonymous folio of a higher order (THP). */
  ANON_THP("anon-thp"),
  /** A hugetlbfs folio. */
  HUGETLB("hugetlb"),
  /** A page-cache folio of a file. */
  FILE("file"),
  /** A frame with no {@code struct page} ({@code VM_PFNMAP} / IO memory). */
  PFNMAP("pfnmap"),
  /** ZONE_DEVICE memory (struct pages, never on the LRU: device-DAX, pmem). */
  ZONE_DEVICE("zone-device"),
  /** The zero page and other reserved frames. */
  OTHER("other");

  private static final Backing[] VALUES = values();

  private final String label;

  Backing(String label) {
    this.label = label;
  }

  /** The labels of the given backings, in order, for a facet's axis. */
  static String[] labels(Backing... backings) {
    String[] labels = new String[backings.length];
    for (int i = 0; i < backings.length; i++) {
      labels[i] = backings[i].label;
    }
    return labels;
  }

  /** What backs frame {@code pfn} now. */
  static Backing of(HostMemory memory, long pfn) {
    if (memory.isIoPfn(pfn) || !memory.pfnValid(pfn)) {
      return PFNMAP;
    }
    if (memory.isZoneDevice(pfn)) {
      return ZONE_DEVICE;
    }
    if (memory.isReserved(pfn)) {
      return OTHER;
    }
    if (memory.isHugetlb(pfn)) {
      return HUGETLB;
    }
    if (memory.isAnon(pfn)) {
      return memory.folioOrder(pfn) > 0 ? ANON_THP : ANON;
    }
    return FILE;
  }
}
