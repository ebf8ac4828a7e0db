package org.kvmmodel.core.mm;

/** What follow_pfnmap_start reports: the pfn an IO mapping maps and whether it is writable. */
public record PfnmapEntry(long pfn, boolean writable) {}
